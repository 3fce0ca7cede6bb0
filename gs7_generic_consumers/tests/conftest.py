"""This lesson's fixtures: the chat's tests run on an in-memory and on a Redis channel layer."""

import uuid

import pytest
from channels.layers import get_channel_layer

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
    return f"gs7-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["InMemoryChannelLayer", "RedisChannelLayer"])
async def channel_layer(request, settings, prefix):
    """The project's layer for one test, of each kind; consumers built during it use it."""
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
