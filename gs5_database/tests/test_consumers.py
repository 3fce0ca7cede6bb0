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
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from chat_clients import ORIGIN, group_members, join, receive_text, stored, texts
from django.core.exceptions import SynchronousOnlyOperation
from django.db import OperationalError

from chat.consumers import HISTORY_LENGTH, MAX_MESSAGE_LENGTH, NOTIFICATIONS_GROUP, ChatConsumer
from chat.models import Message, Room
from gs5.asgi import application

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


BAD_TEXT_FRAMES = {
    "not JSON": "hello",
    "empty text": "",
    "a JSON list": '["message", "hi"]',
    "a JSON string": '"hi"',
    "JSON null": "null",
    "an empty object": "{}",
    "no message key": json.dumps({"text": "hi"}),
    "message is a number": json.dumps({"message": 5}),
    "message is null": json.dumps({"message": None}),
    "message is a list": json.dumps({"message": ["hi"]}),
    "message is empty": json.dumps({"message": ""}),
    "message is whitespace": json.dumps({"message": " \t\n\u00a0 "}),
    "message is too long": json.dumps({"message": "x" * (MAX_MESSAGE_LENGTH + 1)}),
    "message is a lone surrogate": '{"message": "\\ud800"}',
    "to is a number": json.dumps({"message": "hi", "to": 5}),
    "to is a group name": json.dumps({"message": "hi", "to": "chat_lobby"}),
    "a huge frame": json.dumps({"message": "x" * (1024 * 1024)}),
}


@pytest.mark.parametrize("frame", BAD_TEXT_FRAMES.values(), ids=BAD_TEXT_FRAMES.keys())
async def test_bad_text_frames_get_an_error_and_nothing_is_stored(frame):
    alice, _ = await join()
    bob, _ = await join()
    # send_to() refuses empty text, so send the raw ASGI event a server would.
    await alice.send_input({"type": "websocket.receive", "text": frame})
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


@pytest.mark.parametrize("data", [b"\x00\xff", b'{"message": "hi"}', b""], ids=repr)
async def test_binary_frames_get_an_error_and_nothing_is_stored(data):
    alice, _ = await join()
    await alice.send_input({"type": "websocket.receive", "bytes": data})
    assert "binary" in (await alice.receive_json_from(5))["error"]
    assert await stored("lobby") == []
    await alice.disconnect()


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


@pytest.mark.parametrize("room", ["", "two words", "a.b", "ünïcödé", "x" * 51, "lobby/extra"])
async def test_invalid_room_names_have_no_route(room):
    communicator = WebsocketCommunicator(
        application, f"/ws/chat/{room}/", headers=[(b"origin", ORIGIN.encode())]
    )
    with pytest.raises(ValueError, match="No route found"):
        await communicator.connect()


@pytest.mark.parametrize("origin", ["http://evil.example", None], ids=["another site", "none"])
async def test_other_origins_are_refused(origin):
    headers = [(b"origin", origin.encode())] if origin else []
    communicator = WebsocketCommunicator(application, "/ws/chat/lobby/", headers=headers)
    connected, _ = await communicator.connect()
    assert not connected


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
