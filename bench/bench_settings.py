"""A lesson's settings, changed for one measurement; for the benchmark only.

The server is started with DJANGO_SETTINGS_MODULE=bench_settings and
BENCH_BASE_SETTINGS=<the lesson's settings module>; everything not changed here is the lesson's.

- BENCH_LAYER=pubsub: CHANNEL_LAYERS becomes RedisPubSubChannelLayer on REDIS_URL (gs4 has
  no switch for it).
- BENCH_NO_FLOOD_LIMIT=1: gs4's per-socket flood control (CHAT_RATE, CHAT_BURST) lifted. The
  fan-out's one sender is a script that sends bursts back to back, which the limit exists to
  refuse; a room of people would spread the same messages over many senders.
- BENCH_STOCK_DISPATCH=1: an experiment. gs4's ChatConsumer and gs7's async consumers skip
  the close_old_connections() trip to the sync thread that Channels' AsyncConsumer.dispatch
  makes before every handler (they never use the database); this puts Channels' own dispatch
  back, to measure what the trip costs. Sync consumers keep their own dispatch.
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

if os.environ.get("BENCH_NO_FLOOD_LIMIT") == "1":
    CHAT_RATE = CHAT_BURST = 1_000_000

if os.environ.get("BENCH_STOCK_DISPATCH") == "1":
    from channels.consumer import AsyncConsumer, SyncConsumer

    _stock_dispatch, _call = AsyncConsumer.dispatch, AsyncConsumer.__call__

    async def _call_with_stock_dispatch(self, scope, receive, send):
        # __call__ looks up self.dispatch once per consumer: an instance attribute wins over
        # a subclass's override.
        if not isinstance(self, SyncConsumer):
            self.dispatch = _stock_dispatch.__get__(self)
        return await _call(self, scope, receive, send)

    AsyncConsumer.__call__ = _call_with_stock_dispatch

if os.environ.get("BENCH_SKIP_EXPIRY_WALK") == "1":
    from channels.layers import InMemoryChannelLayer

    InMemoryChannelLayer._clean_expired = lambda self: None
