"""This lesson's fixtures: a channel layer for in-process tests, users and their sessions."""

import os
import uuid

import channels.db
import django.db
import pytest
from channels.layers import get_channel_layer
from chat_clients import session_for

# A socket waits PRESENCE_COALESCE (0.5 s) before it reads who is online. The tests that are
# not about that should not wait so long at every join: here, and in the servers they start.
os.environ.setdefault("PRESENCE_COALESCE", "0.05")


@pytest.fixture(autouse=True)
def quick_presence(settings):
    settings.PRESENCE_COALESCE = float(os.environ["PRESENCE_COALESCE"])


# The capacity gs8/settings.py gives both layers: a burst of a busy room needs it.
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
    return f"gs8-test-{uuid.uuid4().hex[:12]}"


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


@pytest.fixture
def alice(transactional_db):
    return session_for("alice")


@pytest.fixture
def bob(transactional_db):
    return session_for("bob")


@pytest.fixture
async def close_database_connections():
    """Close the consumers' connections after a test, as a server would between events.

    WebsocketCommunicator replaces channels.db.close_old_connections with a no-op while it
    waits (unittest.mock.patch). Several communicators waiting at once can leave the no-op in
    place for good (django/channels#2118): connections then stay open after the test.
    """
    yield
    channels.db.close_old_connections = django.db.close_old_connections
    await channels.db.aclose_old_connections()


@pytest.fixture
def small_flood_limit(settings):
    """A burst of 3 and no refill (CHAT_RATE = 0): a test counts frames, not seconds."""
    settings.CHAT_RATE, settings.CHAT_BURST = 0, 3
