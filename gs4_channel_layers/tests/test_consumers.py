"""The chat consumer in-process (WebsocketCommunicator).

Tests that take the `channel_layer` fixture run twice: InMemoryChannelLayer, then
RedisChannelLayer on a real Redis with a key prefix of its own. The others use the lesson's
default, the in-memory layer.
"""

import contextlib
import json

import pytest
from chat_clients import check_burst, group_members, join

from chat.consumers import MAX_MESSAGE_LENGTH, NOTIFICATIONS_GROUP

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
    for communicator in (alice, bob, carol):
        await communicator.disconnect()


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
async def test_a_message_to_an_unknown_channel_reaches_nobody(channel_layer):
    alice, alice_name = await join()
    bob, _ = await join()
    # A well-formed name in this process that no socket owns: the layer queues the message
    # where nobody reads, and it expires unseen.
    unknown = alice_name[: alice_name.index("!") + 1] + "nobodyhere"
    await alice.send_json_to({"message": "into the void", "to": unknown})
    assert await alice.receive_nothing() and await bob.receive_nothing()
    await alice.send_json_to({"message": "still here"})
    assert await bob.receive_json_from() == {"message": "still here"}
    await alice.disconnect()
    await bob.disconnect()


async def test_the_longest_message_is_counted_in_characters():
    alice, _ = await join()
    # 1000 characters, 4000 bytes in UTF-8: still a valid message.
    await alice.send_json_to({"message": "😀" * MAX_MESSAGE_LENGTH})
    assert await alice.receive_json_from() == {"message": "😀" * MAX_MESSAGE_LENGTH}
    await alice.disconnect()


BAD_FRAMES = {
    "not JSON": {"text": "hello"},
    "unclosed JSON": {"text": '{"message": "hi"'},
    "an empty frame": {"text": ""},
    "binary": {"bytes": b'{"message": "hi"}'},
    "a list": {"text": '["message", "hi"]'},
    "a string": {"text": '"hi"'},
    "no message": {"text": '{"text": "hi"}'},
    "a number": {"text": '{"message": 5}'},
    "null": {"text": '{"message": null}'},
    "empty": {"text": '{"message": ""}'},
    "whitespace": {"text": json.dumps({"message": " \t\n "})},
    "1001 characters": {"text": json.dumps({"message": "x" * (MAX_MESSAGE_LENGTH + 1)})},
    "a number as to": {"text": '{"message": "hi", "to": 7}'},
    "a group as to": {"text": '{"message": "hi", "to": "chat_lobby"}'},
    "an empty to": {"text": '{"message": "hi", "to": ""}'},
}


@hostile("frames that are not a chat message: not JSON, empty, binary, not an object, a "
         "missing, non-string, empty, whitespace or 1001-character message, a bad `to`",
         "`{\"error\": ...}` to the sender only; the socket stays open")
@pytest.mark.parametrize("event", BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
async def test_a_bad_frame_gets_an_error_to_the_sender_only(event):
    alice, _ = await join()
    bob, _ = await join()
    # send_to() refuses empty text, so send the raw ASGI event a server would.
    await alice.send_input({"type": "websocket.receive", **event})
    reply = await alice.receive_json_from()
    assert set(reply) == {"error"} and isinstance(reply["error"], str) and reply["error"]
    assert await bob.receive_nothing()
    # The socket stays open and in its room.
    await alice.send_json_to({"message": "after the error"})
    assert await alice.receive_json_from() == {"message": "after the error"}
    assert await bob.receive_json_from() == {"message": "after the error"}
    await alice.disconnect()
    await bob.disconnect()


async def test_disconnect_leaves_no_membership_behind(channel_layer):
    alice, alice_name = await join("room_a")
    bob, bob_name = await join("room_a")
    assert await group_members(channel_layer, "chat_room_a") == {alice_name, bob_name}
    assert await group_members(channel_layer, NOTIFICATIONS_GROUP) == {alice_name, bob_name}
    await alice.disconnect()
    assert await group_members(channel_layer, "chat_room_a") == {bob_name}
    assert await group_members(channel_layer, NOTIFICATIONS_GROUP) == {bob_name}
    await bob.disconnect()
    assert await group_members(channel_layer, "chat_room_a") == set()
    assert await group_members(channel_layer, NOTIFICATIONS_GROUP) == set()


async def test_a_notification_reaches_every_room(channel_layer):
    alice, _ = await join("room_a")
    carol, _ = await join("room_b")
    # What `manage.py notify` sends (tests/test_redis.py runs the command itself).
    await channel_layer.group_send(
        NOTIFICATIONS_GROUP, {"type": "chat.notification", "text": "restart at noon"}
    )
    for communicator in (alice, carol):
        assert await communicator.receive_json_from() == {"notification": "restart at noon"}
    await alice.disconnect()
    await carol.disconnect()


# The room gs4/settings.py sizes the layers' `capacity` for: every socket sends its whole burst
# at once, without waiting for any echo, and every socket must hear every message.
SOCKETS, MESSAGES = 20, 50


async def test_a_busy_room_loses_nothing():
    sockets = [(await join("busy"))[0] for _ in range(SOCKETS)]
    sent = [[f"{n}:{m}" for m in range(MESSAGES)] for n in range(SOCKETS)]
    for socket, texts in zip(sockets, sent, strict=True):
        for text in texts:
            await socket.send_json_to({"message": text})
    for socket in sockets:
        heard = []
        with contextlib.suppress(TimeoutError):  # a lost message: check_burst says how many
            while len(heard) < SOCKETS * MESSAGES:
                heard.append((await socket.receive_json_from(timeout=10))["message"])
        check_burst(heard, sent)
        assert await socket.receive_nothing()
    for socket in sockets:
        await socket.disconnect()
