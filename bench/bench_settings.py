"""A lesson's settings, changed for one measurement; for the benchmark only.

The server is started with DJANGO_SETTINGS_MODULE=bench_settings and
BENCH_BASE_SETTINGS=<the lesson's settings module>; everything not changed here is the lesson's.

- BENCH_TUTORIAL=1: serve the official tutorial's chat consumer (bench/tutorial/) instead of
  the lesson's, with the lesson's settings (gs4's: its channel layer, hosts and origins).
- BENCH_DATABASE=<path>: the lesson's database becomes a SQLite file at <path>, so that the
  users and sessions the benchmark creates never touch a lesson's own db.sqlite3.
- BENCH_LAYER=pubsub: CHANNEL_LAYERS becomes RedisPubSubChannelLayer on REDIS_URL (no lesson
  has a switch for it).
- BENCH_NO_FLOOD_LIMIT=1: gs8's per-socket flood control lifted (every setting whose name
  starts with CHAT_ and ends with _RATE or _BURST set to a million). The fan-out's one sender
  is a script that sends bursts of up to 50 messages back to back, which the limit exists to
  refuse; a room of people would spread the same messages over many senders.
- BENCH_STOCK_DISPATCH=1: an experiment. gs8's consumer skips the close_old_connections() trip
  to the sync thread that Channels' AsyncConsumer.dispatch makes before every handler, for the
  handlers that never use the database; this puts Channels' own dispatch back, to measure
  what the shortcut buys. Sync consumers keep their own dispatch.
- BENCH_DISPATCH_SHORTCUT=1: the opposite experiment, on a stock consumer (gs7's echo): every
  async consumer's dispatch() calls its handler without the trip, as gs8's does where no ORM
  runs. Only for consumers that never touch the database.
- BENCH_SKIP_EXPIRY_WALK=1: an experiment, not advice. InMemoryChannelLayer walks every channel
  and group membership of the process on every receive() to drop expired ones; this turns the
  walk off (nothing expires any more), to measure what it costs a big room.
"""

import importlib
import os

_base = importlib.import_module(os.environ["BENCH_BASE_SETTINGS"])
globals().update({name: value for name, value in vars(_base).items() if name.isupper()})

if os.environ.get("BENCH_TUTORIAL") == "1":
    ASGI_APPLICATION = "tutorial.asgi.application"

if os.environ.get("BENCH_DATABASE"):
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                             "NAME": os.environ["BENCH_DATABASE"]}}

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
    for _name in [n for n in globals() if n.startswith("CHAT_")
                  and n.endswith(("_RATE", "_BURST", "RATE", "BURST"))]:
        globals()[_name] = 1_000_000

if "1" in (os.environ.get("BENCH_STOCK_DISPATCH"), os.environ.get("BENCH_DISPATCH_SHORTCUT")):
    from channels.consumer import AsyncConsumer, SyncConsumer, get_handler_name

    if os.environ.get("BENCH_STOCK_DISPATCH") == "1":
        _dispatch = AsyncConsumer.dispatch
    else:
        async def _dispatch(self, message):
            # Channels' AsyncConsumer.dispatch without `await aclose_old_connections()`.
            handler = getattr(self, get_handler_name(message), None)
            if handler is None:
                raise ValueError(f"No handler for message type {message['type']}")
            await handler(message)

    _call = AsyncConsumer.__call__

    async def _call_with_bench_dispatch(self, scope, receive, send):
        # __call__ looks up self.dispatch once per consumer: an instance attribute wins over
        # a subclass's override.
        if not isinstance(self, SyncConsumer):
            self.dispatch = _dispatch.__get__(self)
        return await _call(self, scope, receive, send)

    AsyncConsumer.__call__ = _call_with_bench_dispatch

if os.environ.get("BENCH_SKIP_EXPIRY_WALK") == "1":
    from channels.layers import InMemoryChannelLayer

    InMemoryChannelLayer._clean_expired = lambda self: None
