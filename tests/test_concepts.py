"""The facts the concept pages state about Channels, checked against the installed packages.

If an upgrade changes a default or a behaviour, these fail and point at the page to update.
"""

import asyncio
import datetime
import decimal
import inspect
import json
import threading
import uuid
from pathlib import Path

import channels
import channels_redis
import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from channels.consumer import get_handler_name
from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from channels_redis.utils import create_pool


def test_handler_names_turn_dots_into_underscores():  # consumers.md
    assert get_handler_name({"type": "chat.message"}) == "chat_message"
    assert get_handler_name({"type": "websocket.receive"}) == "websocket_receive"
    with pytest.raises(ValueError, match="leading underscore"):
        get_handler_name({"type": "_private"})


async def test_sync_code_shares_one_thread_by_default():  # consumers.md, database.md
    from channels.db import DatabaseSyncToAsync

    assert issubclass(DatabaseSyncToAsync, SyncToAsync)
    assert SyncToAsync.single_thread_executor._max_workers == 1
    idents = await asyncio.gather(*(sync_to_async(threading.get_ident)() for _ in range(5)))
    assert len(set(idents)) == 1 and idents[0] != threading.get_ident()


def test_auth_middleware_stack_is_cookie_session_auth():  # authentication.md
    from channels.auth import AuthMiddlewareStack

    async def app(scope, receive, send):
        pass

    stack = AuthMiddlewareStack(app)
    names = [type(stack).__name__, type(stack.inner).__name__, type(stack.inner.inner).__name__]
    assert names == ["CookieMiddleware", "SessionMiddleware", "AuthMiddleware"]
    assert stack.inner.inner.inner is app


@pytest.mark.parametrize("layer_class", [InMemoryChannelLayer, RedisChannelLayer])
def test_layer_defaults_in_the_limits_table(layer_class):  # channel-layers.md
    defaults = {name: p.default for name, p in inspect.signature(layer_class).parameters.items()}
    assert (defaults["capacity"], defaults["expiry"], defaults["group_expiry"]) == (100, 60, 86400)


async def test_a_full_channel_raises_and_group_send_drops_quietly():  # channel-layers.md
    layer = InMemoryChannelLayer(capacity=2)
    await layer.send("inbox", {"type": "a"})
    await layer.send("inbox", {"type": "b"})
    with pytest.raises(ChannelFull):
        await layer.send("inbox", {"type": "c"})
    await layer.group_add("room", "inbox")
    await layer.group_send("room", {"type": "d"})  # no exception: dropped for that member
    assert [(await layer.receive("inbox"))["type"] for _ in range(2)] == ["a", "b"]
    await layer.flush()


def test_no_layer_raises_message_too_large():  # channel-layers.md
    sources = [Path(channels.__file__).parent / "layers.py",
               *Path(channels_redis.__file__).parent.glob("*.py")]
    assert not [p.name for p in sources if "MessageTooLarge" in p.read_text()]


def test_sharding_and_sentinel_host_entries():  # channel-layers.md
    layer = RedisChannelLayer(hosts=["redis://10.0.0.1:6379/0", "redis://10.0.0.2:6379/0"])
    assert layer.ring_size == 2
    assert layer.consistent_hash("chat_lobby") == layer.consistent_hash("chat_lobby")
    pool = create_pool({"sentinels": [("10.0.0.1", 26379)], "master_name": "mymaster",
                        "sentinel_kwargs": {"password": "x"}})
    assert type(pool).__name__ == "SentinelConnectionPool"
    assert pool.service_name == "mymaster"
    with pytest.raises(ValueError, match="list of Redis hosts"):
        RedisChannelLayer(hosts="redis://127.0.0.1:6379/0")


def test_server_message_limits():  # channel-layers.md, deployment.md
    import daphne.server
    import uvicorn.config

    daphne_default = inspect.signature(daphne.server.Server).parameters
    assert daphne_default["websocket_max_message_size"].default == 1024 * 1024
    assert uvicorn.config.Config(app="x:y").ws_max_size == 16 * 1024 * 1024


def test_what_json_does_not_carry():  # json.md
    from django.core.serializers.json import DjangoJSONEncoder

    assert json.dumps(float("nan")) == "NaN"  # not JSON: JSON.parse would throw
    with pytest.raises(ValueError):
        json.dumps(float("nan"), allow_nan=False)
    for value in (datetime.datetime(2024, 5, 1, 12, 0), b"bytes", decimal.Decimal("1.5")):
        with pytest.raises(TypeError, match="not JSON serializable"):
            json.dumps(value)
    assert json.loads(json.dumps({1: (1, 2)})) == {"1": [1, 2]}
    encoded = json.dumps({"at": datetime.datetime(2024, 5, 1, 12, 0), "id": uuid.UUID(int=1),
                          "price": decimal.Decimal("1.50")}, cls=DjangoJSONEncoder)
    assert json.loads(encoded) == {"at": "2024-05-01T12:00:00",
                                   "id": "00000000-0000-0000-0000-000000000001",
                                   "price": "1.50"}
    with pytest.raises(UnicodeEncodeError):
        json.loads('"\\ud800"').encode("utf-8")  # valid JSON, but no UTF-8 form


async def test_where_channels_closes_old_database_connections(monkeypatch):  # database.md, gs4.md
    import channels.consumer
    import channels.db
    from channels.consumer import AsyncConsumer, SyncConsumer
    from channels.db import aclose_old_connections, database_sync_to_async

    closed, trips, handled = [], [], []
    monkeypatch.setattr(channels.db, "close_old_connections", lambda: closed.append(1))
    # database_sync_to_async closes old connections before and after the function...
    await database_sync_to_async(lambda: None)()
    assert len(closed) == 2
    # ...plain sync_to_async (what the async ORM methods use) does not...
    await sync_to_async(lambda: None)()
    assert len(closed) == 2
    # ...and aclose_old_connections() does it once, in the one sync thread.
    await aclose_old_connections()
    assert len(closed) == 3

    async def counted():
        trips.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)

    class Async(AsyncConsumer):
        async def some_event(self, message):
            handled.append(trips.copy())

    class Sync(SyncConsumer):
        def some_event(self, message):
            handled.append("sync")

    # AsyncConsumer.dispatch makes the trip before the handler runs...
    await Async().dispatch({"type": "some.event"})
    assert handled == [[1]]
    # ...SyncConsumer's runs the whole dispatch in the thread, inside database_sync_to_async.
    await Sync().dispatch({"type": "some.event"})
    assert handled[-1] == "sync" and len(trips) == 1 and len(closed) == 5


def test_django_closes_old_connections_around_each_request():  # gs4.md
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    for signal in (request_started, request_finished):
        sync_receivers, _ = signal._live_receivers(None)
        assert close_old_connections in sync_receivers
