"""This lesson's fixtures: a channel layer of each test's own, users, and their sessions."""

import uuid

import channels.db
import django.db
import pytest
from channels.layers import get_channel_layer
from chat_clients import PASSWORD
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def redis_layer(url, prefix):
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [url], "prefix": prefix},
        }
    }


@pytest.fixture
def prefix():
    """Redis keys of this test's own: parallel runs and other lessons never see them."""
    return f"gs6-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["InMemoryChannelLayer"])
async def channel_layer(request, settings, prefix):
    """The project's layer for one test, in memory unless a test asks for Redis with
    @pytest.mark.parametrize("channel_layer", ["RedisChannelLayer"], indirect=True)."""
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
async def close_database_connections():
    """Close the consumers' connections after a test, as a server would between events.

    WebsocketCommunicator replaces channels.db.close_old_connections with a no-op while it
    waits (unittest.mock.patch). Several communicators waiting at once can leave the no-op in
    place for good (django/channels#2118): connections then stay open, and PostgreSQL refuses
    to drop the test database at the end ("being accessed by other users").
    """
    yield
    channels.db.close_old_connections = django.db.close_old_connections
    await channels.db.aclose_old_connections()


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """Django's password hasher is slow on purpose (a million rounds of PBKDF2): in-process
    tests that make users use a fast one, as Django's testing docs suggest. Real servers, and
    the login tests in test_e2e.py, keep the real one."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(transactional_db):
    return get_user_model().objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def bob(transactional_db):
    return get_user_model().objects.create_user("bob", password=PASSWORD)


def session_for(user):
    """A session cookie for `user`, as after a login: Django's test client logs in without a
    password (force_login) and keeps the cookie its login response set."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def alice_session(alice):
    return session_for(alice)


@pytest.fixture
def bob_session(bob):
    return session_for(bob)
