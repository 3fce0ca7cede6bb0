"""This lesson's fixtures: the same tests run on an in-memory and on a Redis channel layer."""

import uuid

import pytest
from channels.layers import get_channel_layer


def in_memory(capacity):
    return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer",
                        "CONFIG": {"capacity": capacity}}}


def redis_layer(url, prefix, capacity):
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [url], "prefix": prefix, "capacity": capacity},
        }
    }


@pytest.fixture
def prefix():
    """Redis keys of this test's own: parallel runs and other lessons never see them."""
    return f"gs4-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["InMemoryChannelLayer", "RedisChannelLayer"])
async def channel_layer(request, settings, prefix):
    """The project's layer for one test, of each kind; consumers built during it use it.
    Both are sized as gs4/settings.py sizes them (its `capacity`)."""
    capacity = settings.CHANNEL_LAYERS["default"]["CONFIG"]["capacity"]
    if request.param == "RedisChannelLayer":
        url = request.getfixturevalue("redis_url")
        settings.CHANNEL_LAYERS = redis_layer(url, prefix, capacity)
    else:
        settings.CHANNEL_LAYERS = in_memory(capacity)
    # Changing CHANNEL_LAYERS makes get_channel_layer() build a new layer from it.
    layer = get_channel_layer()
    assert type(layer).__name__ == request.param
    yield layer
    # In memory: empties it. On Redis: deletes only this prefix's keys and closes connections.
    await layer.flush()
