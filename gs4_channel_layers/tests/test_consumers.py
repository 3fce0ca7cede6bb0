"""The chat consumer in-process (WebsocketCommunicator), on each kind of channel layer.

Every test that takes the `channel_layer` fixture runs twice: InMemoryChannelLayer, then
RedisChannelLayer on a real Redis with a key prefix of its own.
"""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from chat_clients import ORIGIN, group_members, join
from django.core.management import CommandError, call_command

from chat.consumers import MAX_MESSAGE_LENGTH, NOTIFICATIONS_GROUP
from gs4.asgi import application


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


async def test_a_client_cannot_choose_the_handler(channel_layer):
    alice, _ = await join()
    bob, bob_name = await join()
    # "type" from the client is just an extra key: the room gets an ordinary message.
    await alice.send_json_to({"type": "chat.notification", "message": "sneaky", "text": "boo"})
    assert await bob.receive_json_from() == {"message": "sneaky"}
    assert await alice.receive_json_from() == {"message": "sneaky"}
    await alice.send_json_to({"type": "websocket.close", "message": "still sneaky"})
    assert await bob.receive_json_from() == {"message": "still sneaky"}
    assert await alice.receive_json_from() == {"message": "still sneaky"}
    await alice.send_json_to({"type": "chat.message", "message": "private", "to": bob_name})
    assert await bob.receive_json_from() == {"message": "private", "private": True}
    assert await alice.receive_nothing()
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


BAD_TEXT_FRAMES = {
    "not JSON": "hello",
    "broken JSON": '{"message": "hi"',
    "empty frame": "",
    "a JSON list": '["message", "hi"]',
    "a JSON string": '"hi"',
    "a JSON number": "42",
    "JSON null": "null",
    "an empty object": "{}",
    "no message key": json.dumps({"text": "hi"}),
    "message is a number": json.dumps({"message": 5}),
    "message is null": json.dumps({"message": None}),
    "message is a list": json.dumps({"message": ["hi"]}),
    "message is an object": json.dumps({"message": {"text": "hi"}}),
    "message is empty": json.dumps({"message": ""}),
    "message is whitespace": json.dumps({"message": " \t\n\u00a0 "}),
    "message is too long": json.dumps({"message": "x" * (MAX_MESSAGE_LENGTH + 1)}),
    "message is a lone surrogate": '{"message": "\\ud800"}',
    "to is a number": json.dumps({"message": "hi", "to": 5}),
    "to is null": json.dumps({"message": "hi", "to": None}),
    "to is empty": json.dumps({"message": "hi", "to": ""}),
    "to is a group name": json.dumps({"message": "hi", "to": "chat_lobby"}),
    "to has bad characters": json.dumps({"message": "hi", "to": "specific.x!a b"}),
    "to is too long": json.dumps({"message": "hi", "to": "specific.x!" + "a" * 100}),
    "deeply nested JSON": "[" * 5000,
    "a deeply nested message": '{"message": ' + "[" * 5000,
    "a huge frame": json.dumps({"message": "x" * (1024 * 1024)}),
}


@pytest.mark.parametrize("frame", BAD_TEXT_FRAMES.values(), ids=BAD_TEXT_FRAMES.keys())
async def test_bad_text_frames_get_an_error_and_the_socket_stays_open(channel_layer, frame):
    alice, _ = await join()
    bob, _ = await join()
    # send_to() refuses empty text, so send the raw ASGI event a server would.
    await alice.send_input({"type": "websocket.receive", "text": frame})
    reply = await alice.receive_json_from()
    assert set(reply) == {"error"} and isinstance(reply["error"], str) and reply["error"]
    # Nobody else hears about it, and the socket still works.
    assert await bob.receive_nothing()
    await alice.send_json_to({"message": "after the error"})
    assert await alice.receive_json_from() == {"message": "after the error"}
    assert await bob.receive_json_from() == {"message": "after the error"}
    await alice.disconnect()
    await bob.disconnect()


@pytest.mark.parametrize("data", [b"\x00\xff", b'{"message": "hi"}', b""], ids=repr)
async def test_binary_frames_get_an_error(channel_layer, data):
    alice, _ = await join()
    await alice.send_input({"type": "websocket.receive", "bytes": data})
    assert "binary" in (await alice.receive_json_from())["error"]
    await alice.send_json_to({"message": "text works"})
    assert await alice.receive_json_from() == {"message": "text works"}
    await alice.disconnect()


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


@pytest.mark.parametrize("room", INVALID_ROOMS.values(), ids=INVALID_ROOMS.keys())
async def test_invalid_room_names_have_no_route(room):
    communicator = WebsocketCommunicator(
        application, f"/ws/chat/{room}/", headers=[(b"origin", ORIGIN.encode())]
    )
    # The URLRouter finds no route and raises: a real server answers the handshake with an
    # HTTP error (tests/test_e2e.py checks that).
    with pytest.raises(ValueError, match="No route found"):
        await communicator.connect()


@pytest.mark.parametrize(
    "origin", ["http://127.0.0.1:8000", "http://localhost:8000", "http://localhost:9876"]
)
async def test_allowed_origins_are_accepted(origin):
    communicator, _ = await join(origin=origin)
    await communicator.disconnect()


@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "http://127.0.0.1.evil.example:8000", "null", "not a url", None],
    ids=["another site", "a look-alike", "null", "garbage", "no origin header"],
)
async def test_other_origins_are_refused(origin):
    headers = [(b"origin", origin.encode())] if origin else []
    communicator = WebsocketCommunicator(application, "/ws/chat/lobby/", headers=headers)
    connected, _ = await communicator.connect()
    assert not connected
