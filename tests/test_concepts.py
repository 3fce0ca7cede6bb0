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


def test_several_redis_hosts_lose_direct_sends():  # channel-layers.md, deployment.md
    # channels-redis 4.3.0 picks the host of a send by hashing the whole channel name, and the
    # host of a receive by hashing only the process's part before "!" (channels_redis#221).
    layer = RedisChannelLayer(hosts=["redis://10.0.0.1:6379/0", "redis://10.0.0.2:6379/0"])
    names = [f"specific.{prefix}!{n:04x}" for prefix in ("a1b2", "c3d4") for n in range(50)]
    lost = [n for n in names
            if layer.consistent_hash(n) != layer.consistent_hash(layer.non_local_name(n))]
    assert lost  # these sends go to one Redis while their receiver listens on the other
    single = RedisChannelLayer(hosts=["redis://127.0.0.1:6379/0"])
    assert {single.consistent_hash(n) for n in names} == {0}  # one Redis: nothing to miss


async def test_channel_capacity_is_broken_on_the_in_memory_layer():  # channel-layers.md
    # channels 4.3.2 never compiles the patterns, so every send raises; channels-redis does.
    layer = InMemoryChannelLayer(channel_capacity={"chat.*": 200})
    with pytest.raises(ValueError, match="unpack"):
        await layer.send("anything", {"type": "a"})
    redis_layer = RedisChannelLayer(channel_capacity={"chat.*": 200})
    assert (redis_layer.get_capacity("chat.x"), redis_layer.get_capacity("x")) == (200, 100)


async def test_redis_layer_keeps_channels_in_sorted_sets(redis_url):  # channel-layers.md
    import redis.asyncio

    layer = RedisChannelLayer(hosts=[redis_url], prefix=f"gs-concepts-{uuid.uuid4().hex[:8]}")
    client = redis.asyncio.from_url(redis_url)
    try:
        await layer.send("inbox", {"type": "a"})
        await layer.group_add("room", "inbox")
        assert await client.type(layer.prefix + "inbox") == b"zset"
        assert await client.type(layer._group_key("room")) == b"zset"
    finally:
        await layer.flush()
        await client.aclose()


async def test_a_cancelled_cleanup_delivers_a_message_twice(redis_url):  # channel-layers.md
    # receive() moves the message to a backup set; a separate task removes it from there. If that
    # task is cancelled first, the next receive() puts the message back: delivered twice.
    layer = RedisChannelLayer(hosts=[redis_url], prefix=f"gs-concepts-{uuid.uuid4().hex[:8]}")
    try:
        await layer.send("jobs", {"type": "job", "n": 1})
        assert (await layer.receive("jobs"))["n"] == 1
        for cleaner in list(layer.receive_cleaners):
            cleaner.cancel()
        await asyncio.sleep(0)
        assert (await asyncio.wait_for(layer.receive("jobs"), 5))["n"] == 1
    finally:
        await layer.flush()


def test_django_testcase_runs_async_tests_through_async_to_sync():  # testing.md, database.md
    from asgiref.sync import async_to_sync
    from django.test import SimpleTestCase

    assert "async_to_sync(testMethod)" in inspect.getsource(SimpleTestCase._setup_and_call)
    # Under async_to_sync, thread-sensitive sync code runs on the caller's own thread: in a
    # TestCase, database_sync_to_async uses the test's thread and its open transaction.

    async def where():
        return await sync_to_async(threading.get_ident)()

    def sync_test():
        return async_to_sync(where)(), threading.get_ident()

    ran_in, caller = sync_test()
    assert ran_in == caller


async def test_each_http_request_gets_its_own_sync_thread():  # consumers.md, database.md
    from asgiref.sync import ThreadSensitiveContext
    from django.core.handlers.asgi import ASGIHandler

    assert "async with ThreadSensitiveContext()" in inspect.getsource(ASGIHandler.__call__)

    async def in_a_request():
        async with ThreadSensitiveContext():
            await asyncio.sleep(0.05)  # both requests are open at once
            return await sync_to_async(threading.get_ident)()

    consumers_thread = await sync_to_async(threading.get_ident)()
    first, second = await asyncio.gather(in_a_request(), in_a_request())
    assert len({consumers_thread, first, second}) == 3


def test_server_pings_and_lifetimes():  # deployment.md, security.md
    import daphne.server
    import uvicorn.config
    from uvicorn.protocols.websockets import websockets_sansio_impl
    from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol

    params = inspect.signature(daphne.server.Server).parameters
    assert params["ping_interval"].default == 20
    assert params["websocket_timeout"].default == 86400  # every socket closed after a day
    assert uvicorn.config.Config(app="x:y").ws_ping_interval == 20.0
    # uvicorn's default websocket implementation never reads --ws-max-queue.
    assert AutoWebSocketsProtocol is websockets_sansio_impl.WebSocketsSansIOProtocol
    assert "ws_max_queue" not in inspect.getsource(websockets_sansio_impl)


def test_daphne_drops_the_close_reason():  # generic-consumers.md
    from daphne.ws_protocol import WebSocketProtocol

    source = inspect.getsource(WebSocketProtocol.handle_reply)
    assert 'self.serverClose(code=message.get("code", None))' in source
    assert "reason" not in source


def test_session_cookies_are_samesite_lax_by_default():  # authentication.md, security.md
    from django.conf import global_settings

    assert global_settings.SESSION_COOKIE_SAMESITE == "Lax"
    assert global_settings.CSRF_COOKIE_SAMESITE == "Lax"


def test_async_orm_dates():  # database.md
    from django.db.models import Model
    from django.db.models.query import QuerySet

    # QuerySet's a-methods came in Django 4.1, Model.asave and adelete in 4.2.
    assert all(hasattr(QuerySet, name) for name in ("aget", "acreate", "acount", "aupdate"))
    assert hasattr(Model, "asave") and hasattr(Model, "adelete")
