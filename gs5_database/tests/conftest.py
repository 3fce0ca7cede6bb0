"""This lesson's fixtures: a channel layer for in-process tests, a database for real servers."""

import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from channels.layers import get_channel_layer

# The capacity gs5/settings.py gives both layers: a burst of a busy room needs it.
CAPACITY = 1000
IN_MEMORY = {
    "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": CAPACITY}}
}


def redis_layer(url, prefix):
    """The project's Redis layer on `url`, its keys starting with `prefix`."""
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"capacity": CAPACITY, "hosts": [url], "prefix": prefix},
        }
    }


@pytest.fixture
def prefix():
    """Redis keys of this test's own: parallel runs and other lessons never see them."""
    return f"gs5-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["InMemoryChannelLayer"])
async def channel_layer(request, settings, prefix):
    """The project's layer for one test: in memory, unless a test asks for both with
    @pytest.mark.parametrize("channel_layer", LAYERS, indirect=True)."""
    if request.param == "RedisChannelLayer":
        settings.CHANNEL_LAYERS = redis_layer(request.getfixturevalue("redis_url"), prefix)
    else:
        settings.CHANNEL_LAYERS = IN_MEMORY
    # Changing CHANNEL_LAYERS makes get_channel_layer() build a new layer from it.
    layer = get_channel_layer()
    assert type(layer).__name__ == request.param
    yield layer
    # In memory: empties it. On Redis: deletes only this prefix's keys and closes connections.
    await layer.flush()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A DATABASE_URL for a real server: a SQLite file of this test's own, or a new PostgreSQL
    database (gs5_test_...) on the server postgres_url found, dropped afterwards.

    Ask for it before start_server: fixtures end in reverse order, so the server has stopped
    by the time its database is dropped."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gs5.sqlite3'}"
        return
    base = request.getfixturevalue("postgres_url")
    name = f"gs5_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            # FORCE: a server that is still stopping may hold a connection.
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
