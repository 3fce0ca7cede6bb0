"""gs4's room chat on AsyncJsonWebsocketConsumer, in-process, on both channel layers."""

import pytest
from clients import group_members, join

from chat.consumers import MAX_MESSAGE_LENGTH

hostile = pytest.mark.hostile


async def test_a_message_reaches_everyone_in_its_room_and_no_one_else(channel_layer):
    (alice, _), (bob, _), (carol, _) = [await join(room) for room in ("lobby", "lobby", "other")]
    await alice.send_json_to({"message": "hello"})
    assert await alice.receive_json_from() == {"message": "hello"}
    assert await bob.receive_json_from() == {"message": "hello"}
    assert await carol.receive_nothing()
    for ws in (alice, bob, carol):
        await ws.disconnect()


async def test_a_direct_message_reaches_only_its_target():
    (alice, _), (bob, bob_name) = await join(), await join()
    await alice.send_json_to({"message": "psst", "to": bob_name})
    assert await bob.receive_json_from() == {"message": "psst", "private": True}
    assert await alice.receive_nothing()
    await alice.disconnect()
    await bob.disconnect()


@hostile("a binary frame, bad JSON, a non-object, a bad message to the room chat",
         '{"error": ...} to the sender only, the socket stays open')
async def test_a_bad_frame_gets_an_error_on_the_sender_only_and_the_socket_stays_open():
    (alice, _), (bob, _) = await join(), await join()
    bad = ["not json", "", "[1, 2]", "null", "[" * 100_000, '{"text": "hi"}',
           '{"message": 1}', '{"message": "  "}',
           '{"message": "%s"}' % ("x" * (MAX_MESSAGE_LENGTH + 1)),
           '{"message": "hi", "to": "not a channel"}']
    for frame in bad:
        await alice.send_input({"type": "websocket.receive", "text": frame})
        assert "error" in await alice.receive_json_from(), frame[:20]
    await alice.send_to(bytes_data=b'{"message": "binary"}')
    assert "error" in await alice.receive_json_from()
    assert await bob.receive_nothing()
    await alice.send_json_to({"message": "still here"})
    assert await bob.receive_json_from() == {"message": "still here"}
    await alice.disconnect()
    await bob.disconnect()


async def test_a_closed_socket_leaves_no_group_membership(channel_layer):
    ws, name = await join("lobby")
    assert name in await group_members(channel_layer, "chat_lobby")
    await ws.disconnect()
    assert name not in await group_members(channel_layer, "chat_lobby")
    assert name not in await group_members(channel_layer, "notifications")

