"""The chat consumer in-process (WebsocketCommunicator), on each kind of channel layer.

Every test that takes the `channel_layer` fixture runs twice: InMemoryChannelLayer, then
RedisChannelLayer on a real Redis with a key prefix of its own.
"""

import asyncio
import inspect
import json

import channels.consumer
import pytest
from asgiref.sync import sync_to_async
from channels.consumer import AsyncConsumer
from channels.layers import InMemoryChannelLayer
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator
from chat_clients import ORIGIN, group_members, join
from django.core.management import CommandError, call_command
from django.urls import path

from chat import flood
from chat.consumers import MAX_MESSAGE_LENGTH, NOTIFICATIONS_GROUP, ChatConsumer
from chat.flood import FLOOD_CLOSE_CODE, FLOOD_ERROR, TokenBucket
from chat.routing import websocket_urlpatterns
from gs4.asgi import application

hostile = pytest.mark.hostile


async def test_first_frame_is_this_connections_channel_name(channel_layer):
    first, first_name = await join()
    second, second_name = await join()
    assert first_name != second_name
    # It is the consumer's real address: a message sent to it reaches this socket only.
    await channel_layer.send(first_name, {"type": "chat.private", "message": "to you"})
    assert await first.receive_json_from() == {"message": "to you", "private": True}
    assert await second.receive_nothing()
    await first.disconnect()
    await second.disconnect()


async def test_a_message_reaches_everyone_in_its_room_and_no_one_else(channel_layer):
    alice, _ = await join("room_a")
    bob, _ = await join("room_a")
    carol, _ = await join("room_b")
    await alice.send_json_to({"message": "hello room a"})
    # The sender's own socket gets it too: it is a member of the group it sent to.
    assert await alice.receive_json_from() == {"message": "hello room a"}
    assert await bob.receive_json_from() == {"message": "hello room a"}
    assert await carol.receive_nothing()
    await carol.send_json_to({"message": "hello room b"})
    assert await carol.receive_json_from() == {"message": "hello room b"}
    assert await alice.receive_nothing() and await bob.receive_nothing()
    for communicator in (alice, bob, carol):
        await communicator.disconnect()


async def test_messages_arrive_in_the_order_they_were_sent(channel_layer):
    sender, _ = await join()
    listener, _ = await join()
    for n in range(20):
        await sender.send_json_to({"message": f"message {n}"})
    expected = [{"message": f"message {n}"} for n in range(20)]
    assert [await listener.receive_json_from() for _ in range(20)] == expected
    assert [await sender.receive_json_from() for _ in range(20)] == expected
    await sender.disconnect()
    await listener.disconnect()


async def test_a_direct_message_reaches_only_its_target(channel_layer):
    alice, _ = await join("room_a")
    bob, bob_name = await join("room_a")
    carol, carol_name = await join("room_b")
    await alice.send_json_to({"message": "just for bob", "to": bob_name})
    assert await bob.receive_json_from() == {"message": "just for bob", "private": True}
    # Not the sender, not the rest of the room.
    assert await alice.receive_nothing() and await carol.receive_nothing()
    # A channel name works across rooms: it is an address, not a room.
    await alice.send_json_to({"message": "for carol", "to": carol_name})
    assert await carol.receive_json_from() == {"message": "for carol", "private": True}
    assert await alice.receive_nothing() and await bob.receive_nothing()
    for communicator in (alice, bob, carol):
        await communicator.disconnect()


@hostile("a private message to a channel name nobody reads",
         "dropped by the layer (at most once): nobody gets it, the sender is not told")
async def test_a_message_to_an_unknown_channel_is_dropped_silently(channel_layer):
    alice, alice_name = await join()
    bob, _ = await join()
    # Well-formed names nobody listens on, in this process and in another one: the layer
    # accepts them, nobody ever reads them, and the sender is not told.
    this_process = alice_name[: alice_name.index("!") + 1]
    for unknown in (this_process + "nobodyhere", "specific.elsewhere!nobody"):
        await alice.send_json_to({"message": "into the void", "to": unknown})
    assert await alice.receive_nothing() and await bob.receive_nothing()
    await alice.send_json_to({"message": "still here"})
    assert await bob.receive_json_from() == {"message": "still here"}
    await alice.disconnect()
    await bob.disconnect()


class StockDispatchConsumer(ChatConsumer):
    """The lesson's consumer with Channels' own dispatch(), for comparison."""

    dispatch = AsyncConsumer.dispatch


async def test_handlers_skip_channels_database_cleanup_trip(channel_layer, monkeypatch):
    trips = []

    async def counted():
        trips.append(1)

    # What AsyncConsumer.dispatch awaits before every handler (a trip to the sync thread).
    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    stock = URLRouter([path("ws/chat/<room:room_name>/", StockDispatchConsumer.as_asgi())])
    for app, expected in ((application, 0), (stock, 3)):
        trips.clear()
        communicator = WebsocketCommunicator(app, "/ws/chat/lobby/",
                                             headers=[(b"origin", ORIGIN.encode())])
        assert (await communicator.connect())[0]
        await communicator.receive_json_from()
        await communicator.send_json_to({"message": "hello"})
        assert await communicator.receive_json_from() == {"message": "hello"}
        # Three messages (websocket.connect, websocket.receive, chat.message): Channels'
        # dispatch makes the trip for each, the lesson's for none.
        assert len(trips) == expected
        await communicator.disconnect()


def test_channels_dispatch_is_still_what_the_override_copies():
    # ChatConsumer.dispatch is Channels' AsyncConsumer.dispatch without its first await. When
    # a Channels upgrade changes that method, this fails: compare the two again.
    source = inspect.getsource(AsyncConsumer.dispatch)
    assert "await aclose_old_connections()" in source
    assert "await handler(message)" in source
    assert 'raise ValueError("No handler for message type %s" % message["type"])' in source


async def test_a_layer_message_without_a_handler_stops_the_consumer(channel_layer):
    alice, name = await join()
    # Only code on the server can send this (a client's "type" is never used as an event type).
    await channel_layer.send(name, {"type": "no.such.handler"})
    with pytest.raises(ValueError, match="No handler for message type no.such.handler"):
        await alice.wait(timeout=5)


@hostile("a private message to a channel that already holds `capacity` unread messages",
         "not stored; the sender gets `{\"error\": ...}` saying so")
async def test_a_full_channel_gets_no_more_and_the_sender_is_told(channel_layer):
    # Small, to fill it quickly: the layer keeps at most `capacity` unread messages a channel.
    channel_layer.capacity = 3
    alice, _ = await join()
    unread = "specific.elsewhere!nobody"
    for n in range(3):
        await alice.send_json_to({"message": f"unread {n}", "to": unread})
    assert await alice.receive_nothing()
    # The fourth raises ChannelFull in channel_layer.send(): the consumer reports it.
    await alice.send_json_to({"message": "one too many", "to": unread})
    assert "too many unread messages" in (await alice.receive_json_from())["error"]
    await alice.disconnect()


@hostile("a frame that names an event type: `{\"type\": \"chat.notification\" (or "
         "\"websocket.disconnect\", \"websocket.close\", \"chat.message\", \"no.such.handler\"), "
         "\"message\": ...}`",
         "an ordinary message: the room gets `{\"message\": ...}`; the client chooses no handler")
@pytest.mark.parametrize(
    "kind",
    ["chat.notification", "websocket.disconnect", "websocket.close", "chat.message",
     "no.such.handler"],
)
async def test_a_client_cannot_choose_the_handler(channel_layer, kind):
    alice, _ = await join()
    bob, bob_name = await join()
    # "type" from the client is just an extra key: the room gets an ordinary message, and the
    # event the consumer sends says "chat.message" whatever the client wrote.
    await alice.send_json_to({"type": kind, "message": "typed", "text": "boo"})
    assert await bob.receive_json_from() == {"message": "typed"}
    assert await alice.receive_json_from() == {"message": "typed"}
    # With "to", it stays a private message to that channel only.
    await alice.send_json_to({"type": kind, "message": "private", "to": bob_name})
    assert await bob.receive_json_from() == {"message": "private", "private": True}
    assert await alice.receive_nothing()
    # Both sockets are still open and in the room.
    await bob.send_json_to({"message": "both still here"})
    assert await alice.receive_json_from() == {"message": "both still here"}
    await alice.disconnect()
    await bob.disconnect()


@pytest.mark.parametrize(
    "length", [1, MAX_MESSAGE_LENGTH], ids=["one character", "the longest message"]
)
@pytest.mark.parametrize("character", ["x", "é", "😀"])
async def test_length_is_counted_in_characters(channel_layer, length, character):
    alice, _ = await join()
    await alice.send_json_to({"message": character * length})
    assert await alice.receive_json_from() == {"message": character * length}
    await alice.disconnect()


async def error_and_still_open(event):
    """Send one raw frame event from alice: she alone gets {"error": ...}, nobody else hears
    anything, and both sockets still talk afterwards. Returns the error."""
    alice, _ = await join()
    bob, _ = await join()
    # send_to() refuses empty text, so send the raw ASGI event a server would.
    await alice.send_input({"type": "websocket.receive", **event})
    reply = await alice.receive_json_from()
    assert set(reply) == {"error"} and isinstance(reply["error"], str) and reply["error"]
    assert await bob.receive_nothing()
    await alice.send_json_to({"message": "after the error"})
    assert await alice.receive_json_from() == {"message": "after the error"}
    assert await bob.receive_json_from() == {"message": "after the error"}
    await alice.disconnect()
    await bob.disconnect()
    return reply["error"]


@hostile("malformed JSON: `hello`, `{\"message\": \"hi\"`",
         "`{\"error\": ...}` to the sender only; the socket stays open")
@pytest.mark.parametrize("frame", ["hello", '{"message": "hi"'], ids=["words", "unclosed"])
async def test_malformed_json_gets_an_error(channel_layer, frame):
    assert "not JSON" in await error_and_still_open({"text": frame})


@hostile("JSON nested thousands deep: `[[[[...`",
         "`{\"error\": ...}` to the sender only; the socket stays open")
@pytest.mark.parametrize(
    "frame", ["[" * 5000, '{"message": ' + "[" * 5000], ids=["list", "message"]
)
async def test_json_nested_too_deeply_gets_an_error(channel_layer, frame):
    await error_and_still_open({"text": frame})


@hostile("JSON that is not an object: `[\"message\", \"hi\"]`, `\"hi\"`, `42`, `null`",
         "`{\"error\": ...}` to the sender only; the socket stays open")
@pytest.mark.parametrize("frame", ['["message", "hi"]', '"hi"', "42", "null"])
async def test_json_that_is_not_an_object_gets_an_error(channel_layer, frame):
    assert "JSON object" in await error_and_still_open({"text": frame})


@hostile("an empty text frame", "`{\"error\": ...}` to the sender only; the socket stays open")
async def test_an_empty_text_frame_gets_an_error(channel_layer):
    await error_and_still_open({"text": ""})


@hostile("an object that is not a valid message: no `message`, not a string, empty, only "
         "whitespace, 1001 characters, a lone surrogate",
         "`{\"error\": ...}` to the sender only; the socket stays open")
@pytest.mark.parametrize(
    "frame",
    [
        "{}",
        json.dumps({"text": "hi"}),
        json.dumps({"message": 5}),
        json.dumps({"message": None}),
        json.dumps({"message": ["hi"]}),
        json.dumps({"message": {"text": "hi"}}),
        json.dumps({"message": ""}),
        json.dumps({"message": " \t\n\u00a0 "}),
        json.dumps({"message": "x" * (MAX_MESSAGE_LENGTH + 1)}),
        '{"message": "\\ud800"}',
    ],
    ids=["empty object", "no message key", "number", "null", "list", "object", "empty",
         "whitespace", "too long", "lone surrogate"],
)
async def test_an_invalid_message_gets_an_error(channel_layer, frame):
    await error_and_still_open({"text": frame})


@hostile("a `to` that is not a consumer's channel name: a number, null, empty, a group name, "
         "bad characters, 111 characters",
         "`{\"error\": ...}` to the sender only; the socket stays open")
@pytest.mark.parametrize(
    "to",
    [5, None, "", "chat_lobby", "specific.x!a b", "specific.x!" + "a" * 100],
    ids=["number", "null", "empty", "group name", "bad characters", "too long"],
)
async def test_an_invalid_to_gets_an_error(channel_layer, to):
    await error_and_still_open({"text": json.dumps({"message": "hi", "to": to})})


@hostile("a frame of 64 KiB: valid JSON, its message far too long",
         "`{\"error\": ...}` to the sender only; the socket stays open")
async def test_a_frame_of_64_kib_gets_an_error(channel_layer):
    frame = json.dumps({"message": "x" * (64 * 1024)})
    assert "at most" in await error_and_still_open({"text": frame})


@hostile("a frame of 1 MiB that reaches the consumer (no server in between)",
         "`{\"error\": ...}` before it is parsed; the socket stays open")
async def test_a_frame_of_1_mib_gets_an_error_before_it_is_parsed(channel_layer):
    # Through a real server it never gets here: Daphne drops it (test_e2e.py).
    frame = json.dumps({"message": "x" * (1024 * 1024)})
    assert "at most" in await error_and_still_open({"text": frame})


@hostile("a binary frame", "`{\"error\": ...}` to the sender only; the socket stays open")
@pytest.mark.parametrize("data", [b"\x00\xff", b'{"message": "hi"}', b""], ids=repr)
async def test_binary_frames_get_an_error(channel_layer, data):
    assert "binary" in await error_and_still_open({"bytes": data})


# Flood control (chat/flood.py). CHAT_RATE = 0 gives no tokens back during a test: it counts
# frames, not time.


@pytest.fixture
def small_flood_limit(settings):
    settings.CHAT_RATE = 0
    settings.CHAT_BURST = 3


@hostile("a flood: one socket sends more frames than its burst allows, then a burst more",
         "over the limit: `{\"error\": ...}` and the frame is dropped; a whole burst over: "
         "closed with 4029; the room is served throughout")
@pytest.mark.usefixtures("small_flood_limit")
async def test_a_flood_is_refused_then_closed_and_the_room_goes_on(channel_layer):
    flooder, flooder_name = await join()
    other, _ = await join()
    for n in range(3):
        await flooder.send_json_to({"message": f"flood {n}"})
    for n in range(3):  # within the burst: sent as usual
        assert await other.receive_json_from() == {"message": f"flood {n}"}
        assert await flooder.receive_json_from() == {"message": f"flood {n}"}
    # Over it: each frame, good or bad, gets the flood error, and nothing reaches the room.
    for frame in ['{"message": "flood 3"}', "not even JSON", '{"message": "flood 5"}']:
        await flooder.send_input({"type": "websocket.receive", "text": frame})
        assert await flooder.receive_json_from() == {"error": FLOOD_ERROR}
    assert await other.receive_nothing()
    # A whole burst over the limit: the server hangs up, with the application's own code.
    await flooder.send_json_to({"message": "flood 6"})
    assert await flooder.receive_output() == {"type": "websocket.close", "code": FLOOD_CLOSE_CODE}
    await flooder.disconnect()
    # It left its groups; the others are served as before.
    assert flooder_name not in await group_members(channel_layer, "chat_lobby")
    assert flooder_name not in await group_members(channel_layer, NOTIFICATIONS_GROUP)
    await other.send_json_to({"message": "still served"})
    assert await other.receive_json_from() == {"message": "still served"}
    await other.disconnect()


@pytest.mark.usefixtures("small_flood_limit")
async def test_each_socket_has_a_bucket_of_its_own(channel_layer):
    alice, _ = await join()
    bob, _ = await join()
    for n in range(3):
        await alice.send_json_to({"message": f"alice {n}"})
        await bob.receive_json_from()
        await alice.receive_json_from()
    await alice.send_json_to({"message": "alice over"})
    assert await alice.receive_json_from() == {"error": FLOOD_ERROR}
    # Bob's burst is untouched by Alice's.
    await bob.send_json_to({"message": "bob"})
    assert await alice.receive_json_from() == {"message": "bob"}
    await alice.disconnect()
    await bob.disconnect()


def test_the_bucket_refills_with_time_up_to_the_burst(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(flood, "monotonic", lambda: now[0])
    bucket = TokenBucket(rate=2, burst=3)
    assert [bucket.take() for _ in range(4)] == ["ok", "ok", "ok", "refuse"]
    now[0] += 1  # two tokens back: one pays the refused frame's debt, one is spent
    assert bucket.take() == "ok"
    now[0] += 60  # a long pause fills the bucket, but only up to the burst
    assert [bucket.take() for _ in range(4)] == ["ok", "ok", "ok", "refuse"]
    # Sending on while refused: a whole burst over the limit is the end.
    assert [bucket.take() for _ in range(3)] == ["refuse", "refuse", "close"]


async def test_disconnect_leaves_no_membership_behind(channel_layer):
    alice, alice_name = await join("room_a")
    bob, bob_name = await join("room_a")
    assert await group_members(channel_layer, "chat_room_a") == {alice_name, bob_name}
    assert {alice_name, bob_name} <= await group_members(channel_layer, NOTIFICATIONS_GROUP)
    await alice.disconnect()
    assert await group_members(channel_layer, "chat_room_a") == {bob_name}
    assert alice_name not in await group_members(channel_layer, NOTIFICATIONS_GROUP)
    await bob.disconnect()
    assert await group_members(channel_layer, "chat_room_a") == set()
    assert await group_members(channel_layer, NOTIFICATIONS_GROUP) == set()


async def test_a_notification_reaches_every_room(channel_layer):
    alice, _ = await join("room_a")
    carol, _ = await join("room_b")
    await channel_layer.group_send(
        NOTIFICATIONS_GROUP, {"type": "chat.notification", "text": "server restarts at noon"}
    )
    for communicator in (alice, carol):
        assert await communicator.receive_json_from() == {"notification": "server restarts at noon"}
    await alice.disconnect()
    await carol.disconnect()


@pytest.mark.parametrize("channel_layer", ["RedisChannelLayer"], indirect=True)
async def test_notify_command_sends_to_every_room(channel_layer):
    alice, _ = await join("room_a")
    carol, _ = await join("room_b")
    # A management command is synchronous: run it in a thread, as `manage.py` would run it.
    text = "<b>maintenance</b> at noon"
    await sync_to_async(call_command)("notify", text)
    for communicator in (alice, carol):
        assert await communicator.receive_json_from() == {"notification": text}
    await alice.disconnect()
    await carol.disconnect()


@pytest.mark.parametrize("channel_layer", ["RedisChannelLayer"], indirect=True)
@pytest.mark.parametrize("text", ["", "   ", "x" * (MAX_MESSAGE_LENGTH + 1)], ids=len)
async def test_notify_command_refuses_what_a_socket_would_refuse(channel_layer, text):
    alice, _ = await join()
    with pytest.raises(CommandError, match="notification"):
        await sync_to_async(call_command)("notify", text)
    assert await alice.receive_nothing()
    await alice.disconnect()


@pytest.mark.parametrize("channel_layer", ["InMemoryChannelLayer"], indirect=True)
async def test_notify_command_refuses_the_in_memory_layer(channel_layer):
    with pytest.raises(CommandError, match="REDIS_URL") as refused:
        await sync_to_async(call_command)("notify", "hello")
    assert "in-memory channel layer" in str(refused.value)


@hostile("`manage.py notify --type websocket.close TEXT`: a command line that picks the event "
         "type", "refused by the command (it has no such option) before anything is sent")
@pytest.mark.parametrize("channel_layer", ["RedisChannelLayer"], indirect=True)
async def test_notify_cannot_choose_the_event_type(channel_layer):
    alice, _ = await join()
    with pytest.raises(CommandError, match="unrecognized arguments"):
        await sync_to_async(call_command)("notify", "--type", "websocket.close", "hi")
    assert await alice.receive_nothing()
    # JSON in the text is only text: it arrives as the notification, and nothing else happens.
    text = json.dumps({"type": "websocket.close"})
    await sync_to_async(call_command)("notify", text)
    assert await alice.receive_json_from() == {"notification": text}
    await alice.send_json_to({"message": "still open"})
    assert await alice.receive_json_from() == {"message": "still open"}
    await alice.disconnect()


# Faults: sockets that leave at the worst moment, or come and go by the thousand.


@hostile("a socket that disconnects in the middle of a broadcast",
         "everyone else gets every message, in order; the leavers' memberships are gone")
@pytest.mark.parametrize("channel_layer", ["InMemoryChannelLayer"], indirect=True)
async def test_a_socket_leaving_mid_broadcast_disturbs_no_one(channel_layer):
    # In memory only: on Redis a leaving socket can, rarely, take a message for another socket
    # of its process with it (the docs page, "Delivery", says why). test_e2e.py does this over
    # real connections that are cut without a close frame.
    sender, sender_name = await join("busy")
    stayers = [await join("busy") for _ in range(3)]
    leavers = [await join("busy") for _ in range(3)]

    async def broadcast():
        for n in range(25):
            await sender.send_json_to({"message": f"message {n}"})

    async def leave():
        for communicator, _ in leavers:
            await asyncio.sleep(0)  # let the broadcast run in between
            await communicator.disconnect()

    await asyncio.gather(broadcast(), leave())
    expected = [{"message": f"message {n}"} for n in range(25)]
    for communicator in (sender, *(c for c, _ in stayers)):
        assert [await communicator.receive_json_from() for _ in expected] == expected
    assert await group_members(channel_layer, "chat_busy") == {
        sender_name, *(name for _, name in stayers)
    }
    for communicator in (sender, *(c for c, _ in stayers)):
        await communicator.disconnect()


@hostile("1000 sockets connect and disconnect, 20 at a time",
         "no group membership is left behind, in memory or in Redis")
async def test_1000_connections_in_and_out_leave_no_membership(channel_layer):
    async def in_and_out(n):
        # A generous timeout: on a busy machine 20 handshakes at once can take a while.
        communicator, _ = await join(f"churn_{n % 10}", timeout=10)
        await communicator.disconnect(timeout=10)

    for first in range(0, 1000, 20):
        await asyncio.gather(*(in_and_out(n) for n in range(first, first + 20)))
    for room in range(10):
        assert await group_members(channel_layer, f"chat_churn_{room}") == set()
    assert await group_members(channel_layer, NOTIFICATIONS_GROUP) == set()
    if isinstance(channel_layer, InMemoryChannelLayer):
        assert channel_layer.groups == {} and channel_layer.channels == {}
    else:
        # channels_redis deletes a group's sorted set with its last member: no key is left.
        connection = channel_layer.connection(0)
        pattern = channel_layer._group_key("*").decode()
        assert [key async for key in connection.scan_iter(match=pattern)] == []


VALID_ROOMS = ["lobby", "room_1", "Room-2", "a", "9", "_", "-", "x" * 50]
INVALID_ROOMS = {
    "empty": "",
    "a space": "two words",
    "a dot": "a.b",
    "dots": "..",
    "unicode": "ünïcödé",
    "51 characters": "x" * 51,
    "a slash": "a/b",
    "an extra segment": "lobby/extra",
    "percent encoded": "a%20b",
    "a null": "lobby\x00",
}


@pytest.mark.parametrize("room", VALID_ROOMS)
async def test_valid_room_names_are_accepted(room):
    communicator, _ = await join(room)
    await communicator.send_json_to({"message": f"in {room}"})
    assert await communicator.receive_json_from() == {"message": f"in {room}"}
    await communicator.disconnect()


@hostile("a room name with a space, a dot, `..`, unicode, 51 characters, a slash, `%20` or a "
         "null", "no route: refused at the handshake")
@pytest.mark.parametrize("room", INVALID_ROOMS.values(), ids=INVALID_ROOMS.keys())
async def test_invalid_room_names_have_no_route(room):
    communicator = WebsocketCommunicator(
        application, f"/ws/chat/{room}/", headers=[(b"origin", ORIGIN.encode())]
    )
    # The URLRouter finds no route and raises: a real server answers the handshake with an
    # HTTP error (tests/test_e2e.py checks that). Awaiting the application itself ends as soon
    # as it raises (connect() would wait out its whole timeout first).
    await communicator.send_input({"type": "websocket.connect"})
    with pytest.raises(ValueError, match="No route found"):
        async with asyncio.timeout(5):
            await communicator.future


@pytest.mark.parametrize(
    "origin", ["http://127.0.0.1:8000", "http://localhost:8000", "http://localhost:9876"]
)
async def test_allowed_origins_are_accepted(origin):
    communicator, _ = await join(origin=origin)
    await communicator.disconnect()


async def handshake_accepted(origin, stack=application):
    headers = [(b"origin", origin.encode())] if origin is not None else []
    communicator = WebsocketCommunicator(stack, "/ws/chat/lobby/", headers=headers)
    connected, _ = await communicator.connect()
    if connected:
        await communicator.disconnect()
    return connected


@hostile("a handshake from another site's page: `Origin: http://evil.example`, `null`, garbage",
         "refused at the handshake (403)")
@pytest.mark.parametrize("origin", ["http://evil.example", "null", "not a url"])
async def test_a_foreign_origin_is_refused(origin):
    assert not await handshake_accepted(origin)


@hostile("an origin that only looks like an allowed one: `http://127.0.0.1.evil.test`, "
         "`http://localhost.evil.test:8000`, `http://127.0.0.1:8000@evil.test`",
         "refused at the handshake (403)")
@pytest.mark.parametrize(
    "origin",
    ["http://127.0.0.1.evil.test", "http://localhost.evil.test:8000",
     "http://127.0.0.1:8000@evil.test", "http://evil.test/http://127.0.0.1:8000"],
)
async def test_a_lookalike_origin_is_refused(origin):
    assert not await handshake_accepted(origin)


@hostile("a handshake without an `Origin` header (any script)", "refused at the handshake (403)")
async def test_a_handshake_without_origin_is_refused():
    assert not await handshake_accepted(None)


def stack_for(settings, hosts):
    """The lesson's websocket stack with other ALLOWED_HOSTS. AllowedHostsOriginValidator reads
    the setting once, when it is built (gs4/asgi.py, at import): build it again."""
    settings.ALLOWED_HOSTS = hosts
    return AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns))


@pytest.mark.parametrize("origin", ["https://example.com", "http://example.com:8000"])
async def test_an_allowed_production_host_is_accepted(settings, origin):
    assert await handshake_accepted(origin, stack_for(settings, ["example.com"]))


@hostile("with `ALLOWED_HOSTS = example.com`: `https://example.com.evil.test`, "
         "`https://www.example.com`, `https://evil-example.com`",
         "refused at the handshake (403)")
@pytest.mark.parametrize(
    "origin",
    ["https://example.com.evil.test", "http://example.com.evil.test:8000",
     "https://www.example.com", "https://evil-example.com", "https://127.0.0.1"],
)
async def test_a_lookalike_of_a_production_host_is_refused(settings, origin):
    assert not await handshake_accepted(origin, stack_for(settings, ["example.com"]))
