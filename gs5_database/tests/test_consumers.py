"""The stored chat in-process (WebsocketCommunicator), on a real test database.

transaction=True: the consumer reaches the database from a worker thread, on that thread's own
connection. A test wrapped in a transaction (the default) would keep its rows uncommitted on
the test's connection, invisible to the consumer (or locking it out), and the consumer's rows
would be committed outside that transaction and leak into the next test. With
transaction=True every write is really committed, and the tables are emptied after each test.
"""

import asyncio
import json
from datetime import datetime

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator
from chat_clients import ORIGIN, group_members, join, receive_text, stored, texts
from django.core.exceptions import SynchronousOnlyOperation
from django.core.management import CommandError, call_command
from django.db import OperationalError

from chat.consumers import HISTORY_LENGTH, MAX_MESSAGE_LENGTH, NOTIFICATIONS_GROUP, ChatConsumer
from chat.flood import FLOOD_CLOSE_CODE, FLOOD_ERROR
from chat.models import Message, Room
from chat.routing import websocket_urlpatterns
from gs5.asgi import application

hostile = pytest.mark.hostile

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("channel_layer", "close_database_connections"),
]


@database_sync_to_async
def save_in_room(room, count):
    """`count` messages saved straight into `room`, as earlier visitors would have left them."""
    room = Room.objects.create(name=room)
    Message.objects.bulk_create(Message(room=room, text=f"old {n}") for n in range(count))


@database_sync_to_async
def row(pk):
    return Message.objects.select_related("room").get(pk=pk)


async def test_first_frame_of_a_new_room_is_an_empty_history_and_the_channel_name():
    alice, first = await join("new_room")
    assert first["history"] == []
    assert "!" in first["channel_name"]  # a consumer's own channel, as in gs4
    # Looking is not speaking: joining stores nothing, not even the room.
    assert not await database_sync_to_async(Room.objects.exists)()
    await alice.disconnect()


async def test_history_is_the_rooms_last_50_messages_oldest_first():
    await save_in_room("lobby", HISTORY_LENGTH + 10)
    await save_in_room("elsewhere", 3)
    alice, first = await join("lobby")
    assert texts(first["history"]) == [f"old {n}" for n in range(10, HISTORY_LENGTH + 10)]
    times = [datetime.fromisoformat(frame["created"]) for frame in first["history"]]
    assert times == sorted(times)
    await alice.disconnect()


async def test_a_message_is_stored_before_the_room_gets_it():
    alice, _ = await join("room_a")
    bob, _ = await join("room_a")
    await alice.send_json_to({"message": "<b>hello</b> room a"})
    frame = await bob.receive_json_from(5)
    # By the time anyone receives it, its row exists: the broadcast carries the row's own id
    # and time.
    message = await row(frame["id"])
    assert (message.room.name, message.text) == ("room_a", "<b>hello</b> room a")
    assert datetime.fromisoformat(frame["created"]) == message.created
    # The sender's own socket gets the same frame: that is its acknowledgement.
    assert await alice.receive_json_from(5) == frame
    await alice.disconnect()
    await bob.disconnect()


async def test_a_message_reaches_everyone_in_its_room_and_no_one_else():
    alice, _ = await join("room_a")
    bob, _ = await join("room_a")
    carol, _ = await join("room_b")
    await alice.send_json_to({"message": "hello room a"})
    assert await receive_text(alice) == "hello room a"
    assert await receive_text(bob) == "hello room a"
    assert await carol.receive_nothing()
    assert await stored("room_a") == ["hello room a"] and await stored("room_b") == []
    for communicator in (alice, bob, carol):
        await communicator.disconnect()


async def test_the_next_socket_in_the_room_gets_what_was_said_in_order():
    alice, _ = await join()
    for n in range(20):
        await alice.send_json_to({"message": f"message {n}"})
    assert [await receive_text(alice) for _ in range(20)] == [f"message {n}" for n in range(20)]
    await alice.disconnect()
    bob, first = await join()
    assert texts(first["history"]) == [f"message {n}" for n in range(20)]
    await bob.disconnect()


async def test_many_concurrent_writers_lose_nothing():
    sockets = [(await join("busy"))[0] for _ in range(10)]
    sent = {f"socket {s} message {n}" for s in range(10) for n in range(20)}
    heard = [[] for _ in sockets]

    async def write(s, communicator):
        # Like a chat client: send, and wait for the room's copy (the acknowledgement).
        for n in range(20):
            await communicator.send_json_to({"message": f"socket {s} message {n}"})
            while not heard[s] or heard[s][-1] != f"socket {s} message {n}":
                heard[s].append(await receive_text(communicator))

    await asyncio.gather(*(write(s, c) for s, c in enumerate(sockets)))
    # Every socket hears all 200 messages, and the database holds all 200.
    for s, communicator in enumerate(sockets):
        while len(heard[s]) < len(sent):
            heard[s].append(await receive_text(communicator))
        assert set(heard[s]) == sent and len(heard[s]) == len(sent)
    assert sorted(await stored("busy")) == sorted(sent)
    for communicator in sockets:
        await communicator.disconnect()


async def error_and_nothing_stored(event):
    """Send one raw frame event from alice: she alone gets {"error": ...}, nothing is stored,
    and both sockets still talk afterwards. Returns the error."""
    alice, _ = await join()
    bob, _ = await join()
    # send_to() refuses empty text, so send the raw ASGI event a server would.
    await alice.send_input({"type": "websocket.receive", **event})
    reply = await alice.receive_json_from(5)
    assert set(reply) == {"error"} and isinstance(reply["error"], str) and reply["error"]
    assert await bob.receive_nothing()
    assert await database_sync_to_async(Message.objects.count)() == 0
    # The socket still works, and only the good message is stored.
    await alice.send_json_to({"message": "after the error"})
    assert await receive_text(bob) == "after the error"
    assert await stored("lobby") == ["after the error"]
    await alice.disconnect()
    await bob.disconnect()
    return reply["error"]


@hostile("malformed JSON: `hello`, `{\"message\": \"hi\"`",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
@pytest.mark.parametrize("frame", ["hello", '{"message": "hi"'], ids=["words", "unclosed"])
async def test_malformed_json_gets_an_error_and_nothing_is_stored(frame):
    assert "not JSON" in await error_and_nothing_stored({"text": frame})


@hostile("JSON nested thousands deep: `[[[[...`",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
async def test_json_nested_too_deeply_gets_an_error_and_nothing_is_stored():
    await error_and_nothing_stored({"text": '{"message": ' + "[" * 5000})


@hostile("JSON that is not an object: `[\"message\", \"hi\"]`, `\"hi\"`, `null`",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
@pytest.mark.parametrize("frame", ['["message", "hi"]', '"hi"', "null"])
async def test_json_that_is_not_an_object_gets_an_error_and_nothing_is_stored(frame):
    assert "JSON object" in await error_and_nothing_stored({"text": frame})


@hostile("an empty text frame",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
async def test_an_empty_text_frame_gets_an_error_and_nothing_is_stored():
    await error_and_nothing_stored({"text": ""})


@hostile("an object that is not a valid message: no `message`, not a string, empty, only "
         "whitespace, 1001 characters, a lone surrogate",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
@pytest.mark.parametrize(
    "frame",
    [
        "{}",
        json.dumps({"text": "hi"}),
        json.dumps({"message": 5}),
        json.dumps({"message": None}),
        json.dumps({"message": ["hi"]}),
        json.dumps({"message": ""}),
        json.dumps({"message": " \t\n\u00a0 "}),
        json.dumps({"message": "x" * (MAX_MESSAGE_LENGTH + 1)}),
        '{"message": "\\ud800"}',
    ],
    ids=["empty object", "no message key", "number", "null", "list", "empty", "whitespace",
         "too long", "lone surrogate"],
)
async def test_an_invalid_message_gets_an_error_and_nothing_is_stored(frame):
    await error_and_nothing_stored({"text": frame})


@hostile("a `to` that is not a consumer's channel name: a number, a group name",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
@pytest.mark.parametrize("to", [5, "chat_lobby"], ids=["number", "group name"])
async def test_an_invalid_to_gets_an_error_and_nothing_is_stored(to):
    await error_and_nothing_stored({"text": json.dumps({"message": "hi", "to": to})})


@hostile("a frame of 64 KiB: valid JSON, its message far too long",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
async def test_a_frame_of_64_kib_gets_an_error_and_nothing_is_stored():
    frame = json.dumps({"message": "x" * (64 * 1024)})
    assert "at most" in await error_and_nothing_stored({"text": frame})


@hostile("a frame of 1 MiB that reaches the consumer (no server in between)",
         "`{\"error\": ...}` before it is parsed; nothing is stored; the socket stays open")
async def test_a_frame_of_1_mib_gets_an_error_and_nothing_is_stored():
    # Through a real server it never gets here: Daphne drops it (test_e2e.py).
    frame = json.dumps({"message": "x" * (1024 * 1024)})
    assert "at most" in await error_and_nothing_stored({"text": frame})


@hostile("a binary frame",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
@pytest.mark.parametrize("data", [b"\x00\xff", b'{"message": "hi"}', b""], ids=repr)
async def test_binary_frames_get_an_error_and_nothing_is_stored(data):
    assert "binary" in await error_and_nothing_stored({"bytes": data})


@hostile("a frame that names an event type: `{\"type\": \"chat.notification\" (or "
         "\"websocket.disconnect\", \"websocket.close\", \"chat.message\", \"no.such.handler\"), "
         "\"message\": ...}`",
         "an ordinary message, stored and sent to the room; the client chooses no handler")
@pytest.mark.parametrize(
    "kind",
    ["chat.notification", "websocket.disconnect", "websocket.close", "chat.message",
     "no.such.handler"],
)
async def test_a_client_cannot_choose_the_handler(kind):
    alice, _ = await join()
    bob, _ = await join()
    # "type" from the client is just an extra key: the consumer writes the event's own type.
    await alice.send_json_to({"type": kind, "message": "typed", "text": "boo"})
    assert await receive_text(bob) == "typed"
    assert await receive_text(alice) == "typed"
    assert await stored("lobby") == ["typed"]
    await bob.send_json_to({"message": "both still here"})
    assert await receive_text(alice) == "both still here"
    await alice.disconnect()
    await bob.disconnect()


@hostile("a flood: one socket sends more frames than its burst allows, then a burst more",
         "over the limit: `{\"error\": ...}`, the frame is neither stored nor sent; a whole "
         "burst over: closed with 4029; the room is served throughout")
async def test_a_flood_is_refused_then_closed_and_the_room_goes_on(channel_layer, settings):
    # No tokens come back during the test (CHAT_RATE = 0): it counts frames, not time.
    settings.CHAT_RATE, settings.CHAT_BURST = 0, 3
    flooder, flooder_first = await join()
    other, _ = await join()
    for n in range(3):
        await flooder.send_json_to({"message": f"flood {n}"})
        assert await receive_text(other) == f"flood {n}"
        assert await receive_text(flooder) == f"flood {n}"
    for frame in ['{"message": "flood 3"}', "not even JSON", '{"message": "flood 5"}']:
        await flooder.send_input({"type": "websocket.receive", "text": frame})
        assert await flooder.receive_json_from(5) == {"error": FLOOD_ERROR}
    assert await other.receive_nothing()
    await flooder.send_json_to({"message": "flood 6"})
    assert await flooder.receive_output(5) == {"type": "websocket.close", "code": FLOOD_CLOSE_CODE}
    await flooder.disconnect()
    assert await stored("lobby") == ["flood 0", "flood 1", "flood 2"]
    assert flooder_first["channel_name"] not in await group_members(channel_layer, "chat_lobby")
    await other.send_json_to({"message": "still served"})
    assert await receive_text(other) == "still served"
    await other.disconnect()


@hostile("the database fails while saving a message",
         "`{\"error\": ...}` to the sender; the room gets nothing: nothing is sent that is "
         "not stored")
async def test_a_message_the_database_cannot_save_is_not_sent(monkeypatch):
    async def database_is_down(self, text):
        raise OperationalError("database is locked")

    alice, _ = await join()
    bob, _ = await join()
    monkeypatch.setattr(ChatConsumer, "save_message", database_is_down)
    await alice.send_json_to({"message": "lost?"})
    # The sender learns that it failed; nobody received a message the database does not have.
    assert "could not save" in (await alice.receive_json_from(5))["error"]
    assert await bob.receive_nothing()
    await alice.disconnect()
    await bob.disconnect()


async def test_a_direct_message_reaches_only_its_target_and_is_not_stored():
    alice, _ = await join("room_a")
    bob, bob_first = await join("room_a")
    await alice.send_json_to({"message": "just for bob", "to": bob_first["channel_name"]})
    assert await bob.receive_json_from(5) == {"message": "just for bob", "private": True}
    assert await alice.receive_nothing()
    # The history is the room's, shown to everyone who joins: a private message stays out.
    assert await stored("room_a") == []
    await alice.disconnect()
    await bob.disconnect()


async def test_disconnect_leaves_no_membership_behind(channel_layer):
    alice, alice_first = await join("room_a")
    bob, bob_first = await join("room_a")
    names = {alice_first["channel_name"], bob_first["channel_name"]}
    assert await group_members(channel_layer, "chat_room_a") == names
    assert names <= await group_members(channel_layer, NOTIFICATIONS_GROUP)
    await alice.disconnect()
    await bob.disconnect()
    assert await group_members(channel_layer, "chat_room_a") == set()
    assert await group_members(channel_layer, NOTIFICATIONS_GROUP) == set()


@pytest.mark.parametrize("channel_layer", ["RedisChannelLayer"], indirect=True)
async def test_stored_messages_cross_a_redis_layer_unchanged():
    # On Redis the event is serialized (msgpack): the time and id must survive the trip.
    alice, _ = await join()
    bob, _ = await join()
    await alice.send_json_to({"message": "über redis ✓"})
    frame = await bob.receive_json_from(5)
    message = await row(frame["id"])
    assert frame == message.as_frame() and frame["message"] == "über redis ✓"
    await alice.disconnect()
    await bob.disconnect()


async def test_a_notification_reaches_every_room(channel_layer):
    alice, _ = await join("room_a")
    carol, _ = await join("room_b")
    await channel_layer.group_send(
        NOTIFICATIONS_GROUP, {"type": "chat.notification", "text": "server restarts at noon"}
    )
    for communicator in (alice, carol):
        notification = await communicator.receive_json_from(5)
        assert notification == {"notification": "server restarts at noon"}
    await alice.disconnect()
    await carol.disconnect()


@pytest.mark.parametrize("room", ["lobby", "Room-2", "_", "x" * 50])
async def test_valid_room_names_are_accepted(room):
    communicator, _ = await join(room)
    await communicator.send_json_to({"message": f"in {room}"})
    assert await receive_text(communicator) == f"in {room}"
    assert await stored(room) == [f"in {room}"]
    await communicator.disconnect()


@hostile("a room name with a space, a dot, `..`, unicode, 51 characters, a slash or `%20`",
         "no route: refused at the handshake")
@pytest.mark.parametrize(
    "room", ["", "two words", "a.b", "..", "ünïcödé", "x" * 51, "lobby/extra", "a%20b"]
)
async def test_invalid_room_names_have_no_route(room):
    communicator = WebsocketCommunicator(
        application, f"/ws/chat/{room}/", headers=[(b"origin", ORIGIN.encode())]
    )
    # Awaiting the application ends as soon as the router raises (connect() would wait out its
    # whole timeout first).
    await communicator.send_input({"type": "websocket.connect"})
    with pytest.raises(ValueError, match="No route found"):
        async with asyncio.timeout(5):
            await communicator.future


async def handshake_accepted(origin, stack=application):
    headers = [(b"origin", origin.encode())] if origin is not None else []
    communicator = WebsocketCommunicator(stack, "/ws/chat/lobby/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    if connected:
        await communicator.disconnect()
    return connected


@hostile("a handshake from another site's page, a look-alike or no origin: "
         "`http://evil.example`, `http://127.0.0.1.evil.test`, `http://localhost.evil.test:8000`, "
         "`http://127.0.0.1:8000@evil.test`, none",
         "refused at the handshake (403)")
@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "http://127.0.0.1.evil.test", "http://localhost.evil.test:8000",
     "http://127.0.0.1:8000@evil.test", None],
)
async def test_other_origins_are_refused(origin):
    assert not await handshake_accepted(origin)


@hostile("with `ALLOWED_HOSTS = example.com`: `https://example.com.evil.test`, "
         "`https://www.example.com`, `https://evil-example.com`",
         "refused at the handshake (403)")
@pytest.mark.parametrize(
    "origin", ["https://example.com.evil.test", "https://www.example.com", "https://evil-example.com"]
)
async def test_a_lookalike_of_a_production_host_is_refused(settings, origin):
    settings.ALLOWED_HOSTS = ["example.com"]
    # The validator reads ALLOWED_HOSTS when it is built (gs5/asgi.py, at import): build anew.
    stack = AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns))
    assert await handshake_accepted("https://example.com", stack)
    assert not await handshake_accepted(origin, stack)


# Faults: sockets that leave at the worst moment, come and go by the thousand, and a command
# line that tries to pick the event type. Redis stopping is in test_redis.py.


@hostile("a socket that disconnects in the middle of a broadcast",
         "everyone else gets every message, in order, and every message is stored")
async def test_a_socket_leaving_mid_broadcast_disturbs_no_one(channel_layer):
    # In memory only: on Redis a leaving socket can, rarely, take a message for another socket
    # of its process with it (gs4's docs page, "Delivery"); the database still has it.
    sender, _ = await join("busy")
    stayers = [(await join("busy"))[0] for _ in range(3)]
    leavers = [(await join("busy"))[0] for _ in range(3)]

    async def broadcast():
        for n in range(25):
            await sender.send_json_to({"message": f"message {n}"})

    async def leave():
        for communicator in leavers:
            await asyncio.sleep(0)  # let the broadcast run in between
            await communicator.disconnect()

    await asyncio.gather(broadcast(), leave())
    expected = [f"message {n}" for n in range(25)]
    for communicator in (sender, *stayers):
        assert [await receive_text(communicator) for _ in expected] == expected
        await communicator.disconnect()
    assert await stored("busy") == expected


@hostile("1000 sockets connect and disconnect, 20 at a time",
         "no group membership is left behind, in memory or in Redis")
@pytest.mark.parametrize("channel_layer", ["RedisChannelLayer"], indirect=True)
async def test_1000_connections_in_and_out_leave_no_membership(channel_layer):
    # On Redis, where a membership left behind would outlive the server. gs4 runs the same
    # test on both layers; this consumer joins and leaves its groups in the same way.
    async def in_and_out(n):
        communicator, _ = await join(f"churn_{n % 10}")
        await communicator.disconnect(timeout=10)

    for first in range(0, 1000, 20):
        await asyncio.gather(*(in_and_out(n) for n in range(first, first + 20)))
    for room in range(10):
        assert await group_members(channel_layer, f"chat_churn_{room}") == set()
    assert await group_members(channel_layer, NOTIFICATIONS_GROUP) == set()
    # channels_redis deletes a group's sorted set with its last member: no key is left.
    connection = channel_layer.connection(0)
    pattern = channel_layer._group_key("*").decode()
    assert [key async for key in connection.scan_iter(match=pattern)] == []


@hostile("`manage.py notify --type websocket.close TEXT`: a command line that picks the event "
         "type", "refused by the command (it has no such option) before anything is sent")
@pytest.mark.parametrize("channel_layer", ["RedisChannelLayer"], indirect=True)
async def test_notify_cannot_choose_the_event_type():
    alice, _ = await join()
    with pytest.raises(CommandError, match="unrecognized arguments"):
        await sync_to_async(call_command)("notify", "--type", "websocket.close", "hi")
    assert await alice.receive_nothing()
    # JSON in the text is only text: it arrives as the notification, and nothing else happens.
    text = json.dumps({"type": "websocket.close"})
    await sync_to_async(call_command)("notify", text)
    assert await alice.receive_json_from(5) == {"notification": text}
    await alice.send_json_to({"message": "still open"})
    assert await receive_text(alice) == "still open"
    await alice.disconnect()


# The mistake this lesson prevents: the ORM called straight from async code.


async def test_the_orm_called_on_the_event_loop_raises_synchronous_only_operation():
    with pytest.raises(SynchronousOnlyOperation):
        Message.objects.count()
    with pytest.raises(SynchronousOnlyOperation):
        list(Message.objects.filter(room__name="lobby"))
    # The same query in a worker thread is fine.
    assert await database_sync_to_async(Message.objects.count)() == 0


class NaiveChatConsumer(ChatConsumer):
    """load_history without database_sync_to_async: the query runs on the event loop."""

    async def load_history(self):
        latest = Message.objects.filter(room__name=self.room_name).order_by("-created")
        return [message.as_frame() for message in latest[:HISTORY_LENGTH]]


async def test_a_consumer_that_calls_the_orm_directly_never_connects():
    communicator = WebsocketCommunicator(NaiveChatConsumer.as_asgi(), "/ws/chat/lobby/")
    communicator.scope["url_route"] = {"args": (), "kwargs": {"room_name": "lobby"}}
    with pytest.raises(SynchronousOnlyOperation, match="async context"):
        await communicator.connect()
