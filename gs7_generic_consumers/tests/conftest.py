"""Fixtures for this lesson's WebsocketCommunicator tests."""

import uuid

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from gs7.asgi import application

# AllowedHostsOriginValidator refuses a handshake without an allowed Origin, as a browser sends.
ORIGIN = b"http://127.0.0.1:8000"


@pytest.fixture
async def connect():
    """connect(path) -> an accepted WebsocketCommunicator, disconnected after the test."""
    opened = []

    async def connect(path, origin=ORIGIN):
        communicator = WebsocketCommunicator(application, path, headers=[(b"origin", origin)])
        connected, code = await communicator.connect()
        assert connected, f"{path} was refused (close code {code})"
        opened.append(communicator)
        return communicator

    yield connect
    for communicator in opened:
        if not communicator.future.done():
            await communicator.disconnect()


@pytest.fixture(params=["in-memory", "redis"])
async def channel_layer(request, settings):
    """The room chat's tests run once on each layer; Redis keys get a prefix of their own."""
    if request.param == "redis":
        prefix = f"gs7-test-{uuid.uuid4().hex}"
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [request.getfixturevalue("redis_url")], "prefix": prefix},
            }
        }
    else:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    yield layer
    # Deletes this prefix's keys only (and the in-memory layer's state), then closes the pools.
    await layer.flush()
