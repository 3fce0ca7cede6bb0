"""A lesson's settings, changed for one measurement; for the benchmark only.

The server is started with DJANGO_SETTINGS_MODULE=bench_settings and
BENCH_BASE_SETTINGS=<the lesson's settings module>; everything not changed here is the lesson's.

- BENCH_LAYER=pubsub: CHANNEL_LAYERS becomes RedisPubSubChannelLayer on REDIS_URL (gs4 has
  no switch for it).
- BENCH_SKIP_DB_HOP=1: an experiment, not advice. Channels runs close_old_connections() through
  sync_to_async before every handler of every consumer, async ones too; this turns that step
  off, to measure what it costs a consumer that never touches the database.
- BENCH_SKIP_EXPIRY_WALK=1: an experiment, not advice. InMemoryChannelLayer walks every channel
  and group membership of the process on every receive() to drop expired ones; this turns the
  walk off (nothing expires any more), to measure what it costs a big room.
"""

import importlib
import os

_base = importlib.import_module(os.environ["BENCH_BASE_SETTINGS"])
globals().update({name: value for name, value in vars(_base).items() if name.isupper()})

if os.environ.get("BENCH_LAYER") == "pubsub":
    # One Redis PUBLISH per group_send, each server process subscribed once per group:
    # the fan-out to the group's sockets happens in the process, not in Redis.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [os.environ["REDIS_URL"]],
                       "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "bench")},
        }
    }

if os.environ.get("BENCH_SKIP_DB_HOP") == "1":
    import channels.consumer

    async def _skip():
        return None

    # AsyncConsumer.dispatch looks this name up in its module on every message.
    channels.consumer.aclose_old_connections = _skip

if os.environ.get("BENCH_SKIP_EXPIRY_WALK") == "1":
    from channels.layers import InMemoryChannelLayer

    InMemoryChannelLayer._clean_expired = lambda self: None
