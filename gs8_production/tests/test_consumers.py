"""gs8's additions, in-process (WebsocketCommunicator) on a real test database: what each piece
of hardening refuses, and that gs6's chat still works behind it.

transaction=True: the session, the user and the messages are read and written by worker threads
on their own connections, so the test's rows must really be committed.
"""

import asyncio
import inspect
import json
from types import SimpleNamespace

import channels.consumer
import pytest
from channels.auth import AuthMiddlewareStack
from channels.consumer import AsyncConsumer
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator
from chat_clients import (
    communicator,
    group_members,
    join,
    next_frame,
    next_said,
    next_users,
    refused,
    session_for,
    stored,
    stored_ids,
)
from django.contrib.auth.models import User
from django.db import OperationalError
from django.urls import re_path

from chat import consumers, flood, presence
from chat.consumers import MAX_FRAME_LENGTH, NOTIFICATIONS_GROUP, ChatConsumer
from chat.flood import FLOOD_CLOSE_CODE, FLOOD_ERROR, TokenBucket
from chat.models import Message, Presence
from chat.routing import websocket_urlpatterns

hostile = pytest.mark.hostile

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("channel_layer", "close_database_connections"),
]


async def next_error(chat):
    return (await next_frame(lambda: chat.receive_json_from(5), "error"))["error"]


# gs6's chat, still working behind the hardening.


async def test_a_logged_in_chat_with_ids_and_who_is_online(alice, bob):
    alice_ws, _, users = await join("lobby", alice)
    assert users == ["alice"]
    bob_ws, _, users = await join("lobby", bob)
    assert users == ["alice", "bob"]
    assert await next_users(alice_ws) == ["alice", "bob"]
    # The user comes from the session; a "user" key from the client is never read.
    await alice_ws.send_json_to({"message": "hello", "user": "bob"})
    await bob_ws.send_json_to({"message": "hi"})
    ids = []
    for ws in (alice_ws, bob_ws):
        frames = [await next_frame(lambda ws=ws: ws.receive_json_from(5), "message")
                  for _ in range(2)]
        assert [(f["user"], f["message"]) for f in frames] == [("alice", "hello"), ("bob", "hi")]
        ids.append([f["id"] for f in frames])
    # Every broadcast carries the stored row's integer id, the same for every socket.
    assert ids[0] == ids[1] == await stored_ids("lobby")
    await bob_ws.disconnect()
    assert await next_users(alice_ws) == ["alice"]
    await alice_ws.disconnect()


@hostile("an anonymous handshake: no cookie, or a session key that names no session",
         "refused at the handshake (403), before it joins any group")
@pytest.mark.parametrize("session", [None, "x" * 32], ids=["no cookie", "unknown session"])
async def test_an_anonymous_handshake_is_refused(channel_layer, session):
    assert await refused(communicator("lobby", session))
    assert await group_members(channel_layer, "chat_lobby") == set()


# ?after=ID: catching up after a reconnection.


async def say(room, session, *texts):
    """Send `texts` from a socket of `session` in `room`: the ids they were stored with."""
    chat, _, _ = await join(room, session)
    ids = []
    for text in texts:
        await chat.send_json_to({"message": text})
        ids.append((await next_frame(lambda: chat.receive_json_from(5), "message"))["id"])
    await chat.disconnect()
    return ids


async def test_after_an_id_the_history_holds_only_the_messages_after_it(alice):
    ids = await say("lobby", alice, "one", "two", "three")
    for after, expected in ((ids[0], ["two", "three"]), (ids[2], []), (0, ["one", "two", "three"])):
        chat, first, _ = await join("lobby", alice, query=f"?after={after}")
        assert [m["message"] for m in first["history"]] == expected
        await chat.disconnect()


async def test_the_catch_up_is_bounded_to_the_newest(monkeypatch, alice):
    monkeypatch.setattr(consumers, "CATCH_UP_LENGTH", 2)
    await say("lobby", alice, "one", "two", "three", "four")
    chat, first, _ = await join("lobby", alice, query="?after=0")
    assert [m["message"] for m in first["history"]] == ["three", "four"]
    await chat.disconnect()


@hostile("`?after=` that is not one id: `x`, `-1`, empty, `1.5`, 19 digits, two of them",
         "refused at the handshake (403)")
@pytest.mark.parametrize("query", ["?after=x", "?after=-1", "?after=", "?after=1.5",
                                   "?after=" + "9" * 19, "?after=1&after=2"])
async def test_an_invalid_after_is_refused_at_the_handshake(alice, query):
    chat = communicator("lobby", alice, query=query)
    assert await refused(chat)
    # The server then tells the consumer the socket is gone: it ends cleanly, having joined
    # nothing (chat.wait() would raise the consumer's exception).
    await chat.send_input({"type": "websocket.disconnect", "code": 1006})
    await chat.wait(5)


# Frames: every bad one gets {"error"}, and nothing is stored.


@hostile("not JSON, a binary frame, an empty frame, JSON that is not an object, no message, "
         "a blank or 1001-character message, a lone surrogate (`\"\\ud800\"`), a bad `to`, "
         "JSON nested 5000 deep, a frame of 64 KiB, a frame of 1 MiB - 1 byte",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
@pytest.mark.parametrize("event", [
    {"text": "hello"},
    {"bytes": b'{"message": "hi"}'},
    {"text": ""},
    {"text": '["message", "hi"]'},
    {"text": json.dumps({"user": "bob"})},
    {"text": json.dumps({"message": " \t\n"})},
    {"text": json.dumps({"message": "x" * 1001})},
    {"text": '{"message": "half a pair: \\ud800"}'},
    {"text": '{"message": "a low half alone: \\udfff!"}'},
    {"text": json.dumps({"message": "hi", "to": "chat_lobby"})},
    {"text": '{"message": ' + "[" * 5000},
    {"text": json.dumps({"message": "x" * 64 * 1024})},
    {"text": "x" * (1024 * 1024 - 1)},
], ids=["not json", "binary", "empty", "array", "no message", "blank", "1001 characters",
        "high surrogate", "low surrogate", "bad to", "deep json", "64 KiB", "1 MiB - 1"])
async def test_a_bad_frame_gets_an_error_and_nothing_is_stored(alice, event):
    sender, _, _ = await join("lobby", alice)
    other, _, _ = await join("lobby", alice)  # a second tab: the list of users stays the same
    await sender.send_input({"type": "websocket.receive", **event})
    assert await next_error(sender)
    assert await other.receive_nothing()
    assert await stored("lobby") == []
    await sender.send_json_to({"message": "after the error"})
    assert await next_said(other) == ("alice", "after the error")
    await sender.disconnect()
    await other.disconnect()


async def test_a_long_frame_is_refused_before_it_is_parsed(monkeypatch, alice):
    def no_parsing(text):
        raise AssertionError("json.loads ran on an oversized frame")

    chat, _, _ = await join("lobby", alice)
    # The consumer's json module, and only its: the test's own client still parses frames.
    monkeypatch.setattr(consumers, "json", SimpleNamespace(loads=no_parsing, dumps=json.dumps))
    await chat.send_to(text_data=" " * (MAX_FRAME_LENGTH + 1))
    assert f"at most {MAX_FRAME_LENGTH}" in await next_error(chat)
    await chat.disconnect()


@hostile("a frame that names an event type: `{\"type\": \"chat.notification\"` (or "
         "`websocket.close`, `presence.changed`, `no.such.handler`), `\"message\": ...}`",
         "an ordinary message, stored and sent to the room; the client chooses no handler")
@pytest.mark.parametrize("kind", ["chat.notification", "websocket.close", "websocket.disconnect",
                                  "presence.changed", "no.such.handler"])
async def test_a_client_cannot_choose_the_handler(alice, kind):
    sender, _, _ = await join("lobby", alice)
    other, _, _ = await join("lobby", alice)
    await sender.send_json_to({"type": kind, "message": "typed"})
    assert await next_said(other) == ("alice", "typed")
    assert await next_said(sender) == ("alice", "typed")
    assert await stored("lobby") == [("alice", "typed")]
    await sender.disconnect()
    await other.disconnect()


@hostile("a valid session from a foreign, look-alike or missing Origin: `http://evil.example`, "
         "`http://127.0.0.1.evil.test`, `http://localhost.evil.test:8000`, "
         "`http://127.0.0.1:8000@evil.test`, `null`, none",
         "refused at the handshake (403), before the session counts")
@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1.evil.test",
                                    "http://localhost.evil.test:8000",
                                    "http://127.0.0.1:8000@evil.test", "null", None])
async def test_a_foreign_origin_is_refused_even_with_a_valid_session(alice, origin):
    assert await refused(communicator("lobby", alice, origin=origin))


@hostile("with `DJANGO_ALLOWED_HOSTS=example.com`, a valid session from "
         "`https://example.com.evil.test`, `https://www.example.com`, `https://evil-example.com`",
         "refused at the handshake (403); `https://example.com` is accepted")
async def test_a_lookalike_of_a_production_host_is_refused(settings, alice):
    settings.ALLOWED_HOSTS = ["example.com"]
    # The validator reads ALLOWED_HOSTS when it is built (gs8/asgi.py, at import): build anew.
    stack = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))

    async def accepted(origin):
        chat = communicator("lobby", alice, origin=origin, app=stack)
        connected, _ = await chat.connect(timeout=5)
        if connected:
            await chat.disconnect()
        return connected

    assert await accepted("https://example.com")
    for origin in ["https://example.com.evil.test", "https://www.example.com",
                   "https://evil-example.com"]:
        assert not await accepted(origin), origin


# Floods.


@hostile("a flood: one socket sends more frames than its burst, then a whole burst more",
         "over the burst: `{\"error\": ...}`, neither stored nor sent; a burst over: closed "
         "with 4029; the room's other sockets are served throughout")
@pytest.mark.usefixtures("small_flood_limit")
async def test_a_flood_is_refused_then_closed_and_the_room_goes_on(channel_layer, alice):
    flooder, first, _ = await join("lobby", alice)
    other, _, _ = await join("lobby", alice)
    for n in range(3):
        await flooder.send_json_to({"message": f"flood {n}"})
        assert await next_said(other) == ("alice", f"flood {n}")
        assert await next_said(flooder) == ("alice", f"flood {n}")
    # Over the burst, good frames and bad ones alike get the flood error, and go nowhere.
    for frame in ['{"message": "flood 3"}', "not even JSON", '{"message": "flood 5"}']:
        await flooder.send_to(text_data=frame)
        assert await next_error(flooder) == FLOOD_ERROR
    assert await other.receive_nothing()
    await flooder.send_json_to({"message": "flood 6"})
    while (output := await flooder.receive_output(5))["type"] != "websocket.close":
        pass  # the room's own frames, sent before the close
    assert output["code"] == FLOOD_CLOSE_CODE
    await flooder.disconnect()
    assert await stored("lobby") == [("alice", f"flood {n}") for n in range(3)]
    assert first["channel_name"] not in await group_members(channel_layer, "chat_lobby")
    # The other socket has a bucket of its own, full.
    for n in range(3):
        await other.send_json_to({"message": f"still served {n}"})
        assert await next_said(other) == ("alice", f"still served {n}")
    await other.disconnect()


def test_the_bucket_refills_with_time_up_to_the_burst(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(flood, "monotonic", lambda: now[0])
    bucket = TokenBucket(rate=2, burst=3)
    assert [bucket.take() for _ in range(4)] == ["ok", "ok", "ok", "refuse"]
    now[0] += 1  # two tokens back: one pays the refused frame's debt, one is spent
    assert bucket.take() == "ok"
    now[0] += 60  # a long pause fills the bucket, but only up to the burst
    assert [bucket.take() for _ in range(4)] == ["ok", "ok", "ok", "refuse"]
    assert [bucket.take() for _ in range(3)] == ["refuse", "refuse", "close"]


# The dispatch shortcut.


class StockDispatchConsumer(ChatConsumer):
    """gs8's consumer with Channels' own dispatch() for every event, for comparison."""

    dispatch = AsyncConsumer.dispatch


async def test_the_room_s_events_skip_the_database_trip_and_the_socket_s_keep_it(
    monkeypatch, channel_layer, alice
):
    trips = []

    async def counted():
        trips.append(1)

    # What AsyncConsumer.dispatch awaits before every handler: a trip to the sync thread.
    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    stock = URLRouter([re_path(r"^ws/chat/(?P<room_name>\w+)/$", StockDispatchConsumer.as_asgi())])
    user = await User.objects.aget(username="alice")
    counts = []
    for app in (URLRouter(websocket_urlpatterns), stock):
        listeners = []
        for _ in range(4):
            chat = WebsocketCommunicator(app, "/ws/chat/lobby/")
            chat.scope["user"] = user
            assert (await chat.connect(5))[0]
            assert "history" in await chat.receive_json_from(5)
            await next_users(chat)
            listeners.append(chat)
        # Each socket handles its events in order: once this one is through, so are the
        # presence.changed events the joins sent before it.
        await channel_layer.group_send("chat_lobby", {"type": "chat.notification", "text": "go"})
        for chat in listeners:
            await next_frame(lambda chat=chat: chat.receive_json_from(5), "notification")
        trips.clear()
        await listeners[0].send_json_to({"message": "to four sockets"})
        for chat in listeners:
            assert await next_said(chat) == ("alice", "to four sockets")
        counts.append(len(trips))
        for chat in listeners:
            await chat.disconnect()
    # gs8: one trip, for websocket.receive (it saves). Channels': one more per socket.
    assert counts == [1, 5]


def test_channels_dispatch_is_still_what_the_shortcut_copies():
    # The shortcut is Channels' AsyncConsumer.dispatch without its first await. When an upgrade
    # of Channels changes that method, this fails: compare the two again.
    source = inspect.getsource(AsyncConsumer.dispatch)
    assert "await aclose_old_connections()" in source
    assert "await handler(message)" in source


async def test_an_event_without_a_handler_still_stops_the_consumer(channel_layer, alice):
    chat, first, _ = await join("lobby", alice)
    await channel_layer.send(first["channel_name"], {"type": "no.such.handler"})
    with pytest.raises(ValueError, match="No handler for message type no.such.handler"):
        await chat.wait(timeout=5)


# Faults.


@hostile("the database fails while a message is saved", "`{\"error\": ...}` to the sender, "
         "nothing is broadcast, the socket stays open and works when the database is back")
async def test_a_database_failure_is_told_and_the_socket_survives(monkeypatch, alice):
    chat, _, _ = await join("lobby", alice)

    def fails(**kwargs):
        raise OperationalError("database is locked")

    with monkeypatch.context() as patch:
        patch.setattr(Message.objects, "create", fails)
        await chat.send_json_to({"message": "lost?"})
        assert "could not save" in await next_error(chat)
    await chat.send_json_to({"message": "saved"})
    assert await next_said(chat) == ("alice", "saved")
    assert await stored("lobby") == [("alice", "saved")]
    await chat.disconnect()


@hostile("private messages to a channel that already holds `capacity` unread messages",
         "not delivered; the sender gets `{\"error\": ...}` saying so and stays connected")
async def test_a_full_channel_gets_no_more_and_the_sender_is_told(channel_layer, alice):
    channel_layer.capacity = 2
    chat, _, _ = await join("lobby", alice)
    for _ in range(2):
        await chat.send_json_to({"message": "unread", "to": "specific.elsewhere!nobody"})
    await chat.send_json_to({"message": "one more", "to": "specific.elsewhere!nobody"})
    assert "too many unread messages" in await next_error(chat)
    await chat.disconnect()


@hostile("a socket open longer than `group_expiry`: the layer forgets its group membership",
         "the next heartbeat joins the group again: the socket keeps hearing its room")
async def test_the_heartbeat_renews_an_expired_group_membership(settings, channel_layer, alice):
    settings.PRESENCE_HEARTBEAT = 0.05
    chat, first, _ = await join("lobby", alice)
    # What group_expiry does to a socket open for longer: the layer forgets its membership.
    await channel_layer.group_discard("chat_lobby", first["channel_name"])
    async with asyncio.timeout(5):
        while first["channel_name"] not in await group_members(channel_layer, "chat_lobby"):
            await asyncio.sleep(0.05)
    await chat.disconnect()


@hostile("sockets that disconnect in the middle of a broadcast",
         "everyone else gets every message, in order, and every message is stored")
async def test_a_socket_leaving_mid_broadcast_disturbs_no_one(alice):
    sender, _, _ = await join("busy", alice)
    stayers = [(await join("busy", alice))[0] for _ in range(3)]
    leavers = [(await join("busy", alice))[0] for _ in range(3)]

    async def broadcast():
        for n in range(20):
            await sender.send_json_to({"message": f"message {n}"})

    async def leave():
        for chat in leavers:
            await asyncio.sleep(0)  # let the broadcast run in between
            await chat.disconnect()

    await asyncio.gather(broadcast(), leave())
    expected = [("alice", f"message {n}") for n in range(20)]
    for chat in (sender, *stayers):
        assert [await next_said(chat) for _ in expected] == expected
        await chat.disconnect()
    assert await stored("busy") == expected


@hostile("1000 sockets connect and disconnect, 25 at a time, on Redis",
         "no group membership and no presence row is left behind")
@pytest.mark.parametrize("channel_layer", ["RedisChannelLayer"], indirect=True)
async def test_1000_sockets_in_and_out_leave_nothing_behind(channel_layer, alice):
    # Past the middleware (the user put in the scope): what is counted is the consumer's
    # joining and leaving, not 1000 session lookups.
    router = URLRouter(websocket_urlpatterns)
    user = await User.objects.aget(username="alice")

    async def in_and_out(n):
        chat = WebsocketCommunicator(router, f"/ws/chat/churn_{n % 5}/")
        chat.scope["user"] = user
        assert (await chat.connect(timeout=30))[0]
        await chat.receive_json_from(30)
        await chat.disconnect(timeout=30)

    for first in range(0, 1000, 25):
        await asyncio.gather(*(in_and_out(n) for n in range(first, first + 25)))
    for room in range(5):
        assert await group_members(channel_layer, f"chat_churn_{room}") == set()
    assert await group_members(channel_layer, NOTIFICATIONS_GROUP) == set()
    assert await Presence.objects.acount() == 0


@hostile("a crowd joins one room at once (a host's sockets all coming back after it died)",
         "each socket reads who is online a few times, not once per join, and ends up with "
         "everyone")
async def test_a_crowd_joining_at_once_costs_a_few_reads_per_socket(settings, monkeypatch):
    settings.PRESENCE_COALESCE = 2  # wide, so that the joins below all fall in one window
    names = [f"user{n:02}" for n in range(20)]
    sessions = [await database_sync_to_async(session_for)(name) for name in names]
    reads = []
    read = Presence.objects.users_in
    monkeypatch.setattr(Presence.objects, "users_in", lambda room: reads.append(room) or read(room))
    chats = [communicator("crowd", session) for session in sessions]
    assert all([ok for ok, _ in await asyncio.gather(*(c.connect(timeout=10) for c in chats))])
    for chat in chats:
        assert "channel_name" in await chat.receive_json_from(5)
        users = await next_users(chat)
        while users != names:  # the last list each socket gets names the whole room
            users = await next_users(chat)
    # A consumer handles its events in order: once every socket has this message, each has
    # handled every join before it.
    await chats[0].send_json_to({"message": "all here"})
    for chat in chats:
        assert await next_said(chat) == ("user00", "all here")
    # Every join told every socket in the room: up to 20 x 20 events, each a read of the list
    # without coalescing (measured: 400).
    assert len(reads) < 20 * 20 / 4, len(reads)
    for chat in chats:
        await chat.disconnect()


@hostile("a server process dies with its sockets: their presence rows stay behind",
         "each process's one heartbeat refreshes its own sockets' rows and deletes the dead ones")
async def test_the_process_heartbeat_refreshes_rows_and_drops_the_dead(settings, channel_layer,
                                                                       alice, bob):
    settings.PRESENCE_HEARTBEAT, settings.PRESENCE_EXPIRY = 0.05, 1
    chat, first, _ = await join("lobby", alice)
    joined = (await Presence.objects.aget(channel_name=first["channel_name"])).seen
    # bob's socket on a process that then died: a row that nobody will refresh.
    user = await User.objects.aget(username="bob")
    dead = await Presence.objects.acreate(room="lobby", user=user, channel_name="x!dead",
                                          seen=joined)
    await channel_layer.group_send("chat_lobby", {"type": "presence.changed"})
    assert await next_users(chat) == ["alice", "bob"]
    # PRESENCE_EXPIRY later, a beat of this process deletes it and tells the room.
    assert await next_users(chat) == ["alice"]
    assert not await Presence.objects.filter(pk=dead.pk).aexists()
    # alice's own row, refreshed by the same beats, is still there.
    assert (await Presence.objects.aget(channel_name=first["channel_name"])).seen > joined
    await chat.disconnect()
    assert not await Presence.objects.filter(channel_name=first["channel_name"]).aexists()


@hostile("a socket closes while the process's heartbeat is joining it to its groups again",
         "it is not left behind in any group")
async def test_a_socket_that_leaves_during_a_beat_stays_out_of_its_groups(channel_layer,
                                                                           monkeypatch):
    socket = SimpleNamespace(channel_name=await channel_layer.new_channel(), room_name="beat",
                             groups_joined=("chat_beat", NOTIFICATIONS_GROUP),
                             channel_layer=channel_layer)
    presence.sockets[socket.channel_name] = socket
    join = channel_layer.group_add

    async def join_after_it_left(group, channel):
        # The socket's disconnect() runs while the beat's group_add is on its way.
        presence.leave(socket)
        await channel_layer.group_discard(group, channel)
        await join(group, channel)

    monkeypatch.setattr(channel_layer, "group_add", join_after_it_left)
    await presence.beat_once()
    assert await group_members(channel_layer, "chat_beat") == set()
    assert socket.channel_name not in await group_members(channel_layer, NOTIFICATIONS_GROUP)
