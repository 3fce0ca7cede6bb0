"""The stored chat in-process (WebsocketCommunicator), on a real test database.

Why transaction=True: pytest-asyncio runs these tests on an event loop in the test's thread,
and database_sync_to_async runs the consumer's queries in another thread, on that thread's own
connection. In pytest-django's default mode the test's rows would sit in a transaction on the
test's connection, unseen by the consumer, and the rolled-back transaction would never commit,
so transaction.on_commit() (chat/signals.py) would never broadcast. transaction=True lets every
write really commit, and empties the tables after each test.
"""

import asyncio

import pytest
from channels.db import database_sync_to_async
from chat_clients import join, stored_frame
from django.contrib.auth.models import User
from django.db import transaction
from django.test import AsyncClient

from chat.consumers import HISTORY_LENGTH
from chat.models import Message, Room

LAYERS = ["InMemoryChannelLayer", "RedisChannelLayer"]
hostile = pytest.mark.hostile

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("channel_layer")]


@database_sync_to_async
def save(room, *texts):
    """Messages saved straight into `room`, as any Django code could (a view, a shell)."""
    room, _ = Room.objects.get_or_create(name=room)
    return [Message.objects.create(room=room, text=text) for text in texts]


@database_sync_to_async
def rows(room=None):
    """[(id, text)] of the stored messages (of `room`, or all), oldest first."""
    messages = Message.objects.order_by("id")
    if room:
        messages = messages.filter(room__name=room)
    return list(messages.values_list("id", "text"))


async def test_the_first_frame_is_the_rooms_last_50_messages_oldest_first():
    await save("lobby", *(f"old {n}" for n in range(HISTORY_LENGTH + 5)))
    await save("elsewhere", "not for the lobby")
    alice, first = await join("lobby")
    history = [stored_frame(frame) for frame in first["history"]]
    assert [frame["message"] for frame in history] == [
        f"old {n}" for n in range(5, HISTORY_LENGTH + 5)
    ]
    assert [(frame["id"], frame["message"]) for frame in history] == (await rows("lobby"))[5:]
    assert "!" in first["channel_name"]  # this socket's own channel, as in gs4
    await alice.disconnect()


@pytest.mark.parametrize("channel_layer", LAYERS, indirect=True)
async def test_a_message_is_stored_before_the_room_gets_it(channel_layer):
    alice, _ = await join("room_a")
    bob, _ = await join("room_a")
    carol, _ = await join("room_b")
    await alice.send_json_to({"message": "<b>hello</b> room a"})
    frame = stored_frame(await bob.receive_json_from(5))
    # The frame carries the row's own id: by the time anyone hears it, the row exists.
    assert await rows("room_a") == [(frame["id"], "<b>hello</b> room a")]
    # The sender's socket gets the same frame: that is its acknowledgement.
    assert await alice.receive_json_from(5) == frame
    assert await carol.receive_nothing()
    for communicator in (alice, bob, carol):
        await communicator.disconnect()


async def hear(communicator, count):
    return [stored_frame(await communicator.receive_json_from(10)) for _ in range(count)]


@pytest.mark.parametrize("channel_layer", LAYERS, indirect=True)
async def test_many_sockets_sending_bursts_at_once_lose_nothing(channel_layer):
    sockets = [(await join("busy"))[0] for _ in range(20)]
    # Every socket sends its whole burst at once, without waiting for any answer.
    for s, communicator in enumerate(sockets):
        for n in range(10):
            await communicator.send_json_to({"message": f"socket {s} message {n}"})
    heard = await asyncio.gather(*(hear(communicator, 200) for communicator in sockets))
    broadcast = [(frame["id"], frame["message"]) for frame in heard[0]]
    # Every socket heard all 200, in the order they were stored; the database holds exactly
    # what was broadcast.
    assert all([(f["id"], f["message"]) for f in frames] == broadcast for frames in heard)
    assert broadcast == await rows("busy")
    assert len(set(broadcast)) == 200
    for communicator in sockets:
        await communicator.disconnect()


@hostile(
    "not JSON, a binary frame, not an object, no/empty/blank/too long message, a bad `to`",
    "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open",
)
@pytest.mark.parametrize(
    "event",
    [{"text": "hello"}, {"bytes": b'{"message": "hi"}'}, {"text": '["message", "hi"]'},
     {"text": "{}"}, {"text": '{"message": ""}'}, {"text": '{"message": " \\n "}'},
     {"text": '{"message": "' + "x" * 1001 + '"}'}, {"text": '{"message": "hi", "to": "lobby"}'}],
    ids=["not-json", "binary", "list", "no-message", "empty", "blank", "1001-chars", "bad-to"],
)
async def test_a_bad_frame_gets_an_error_and_nothing_is_stored(event):
    alice, _ = await join()
    bob, _ = await join()
    await alice.send_input({"type": "websocket.receive", **event})
    assert set(await alice.receive_json_from(5)) == {"error"}
    assert await bob.receive_nothing()
    assert await rows() == []
    # The socket stays open: a good message still goes through.
    await alice.send_json_to({"message": "still here"})
    assert stored_frame(await bob.receive_json_from(5))["message"] == "still here"
    await alice.disconnect()
    await bob.disconnect()


async def test_a_private_message_reaches_only_its_target_and_is_not_stored():
    alice, _ = await join()
    bob, bobs = await join()
    carol, _ = await join()
    await alice.send_json_to({"message": "psst", "to": bobs["channel_name"]})
    assert await bob.receive_json_from(5) == {"message": "psst", "private": True}
    assert await alice.receive_nothing() and await carol.receive_nothing()
    assert await rows() == []
    for communicator in (alice, bob, carol):
        await communicator.disconnect()


# --8<-- [start:admin]
async def test_a_message_added_in_the_admin_reaches_the_room_live():
    room = await database_sync_to_async(Room.objects.create)(name="lobby")
    admin = await database_sync_to_async(User.objects.create_superuser)("admin", "", "pw")
    alice, _ = await join("lobby")
    client = AsyncClient()
    await client.aforce_login(admin)
    # The admin's own add form, posted as a browser would after "Save".
    response = await client.post(
        "/admin/chat/message/add/", {"room": room.pk, "text": "from the admin"}
    )
    assert response.status_code == 302, response.content.decode()[:500]
    frame = stored_frame(await alice.receive_json_from(5))
    assert [(frame["id"], frame["message"])] == await rows("lobby")
    await alice.disconnect()
# --8<-- [end:admin]


# --8<-- [start:rollback]
@database_sync_to_async
def save_then_roll_back(room, text):
    with transaction.atomic():
        Message.objects.create(room=Room.objects.get_or_create(name=room)[0], text=text)
        transaction.set_rollback(True)  # as if the code after the save had failed


async def test_a_rolled_back_save_sends_nothing():
    await save("lobby")  # the room exists, with no message yet
    alice, _ = await join("lobby")
    await save_then_roll_back("lobby", "never said")
    await save("lobby", "said")
    # Frames leave in the order of the saves: had the rolled-back row been sent, it would
    # come first.
    assert stored_frame(await alice.receive_json_from(5))["message"] == "said"
    assert await alice.receive_nothing()
    assert [text for _, text in await rows("lobby")] == ["said"]
    await alice.disconnect()
# --8<-- [end:rollback]
