"""The chat consumer in-process (WebsocketCommunicator), on each kind of channel layer.

Every test that takes the `channel_layer` fixture runs twice: InMemoryChannelLayer, then
RedisChannelLayer on a real Redis with a key prefix of its own.
"""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator
from chat_clients import ORIGIN, group_members, join
from django.core.management import CommandError, call_command

from chat.consumers import MAX_MESSAGE_LENGTH, NOTIFICATIONS_GROUP
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
    assert "JSON object" in await error_and_still_open({"text": frame})


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
         "whitespace, 1001 characters",
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
    ],
    ids=["empty object", "no message key", "number", "null", "list", "object", "empty",
         "whitespace", "too long"],
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


@hostile("a binary frame", "`{\"error\": ...}` to the sender only; the socket stays open")
@pytest.mark.parametrize("data", [b"\x00\xff", b'{"message": "hi"}', b""], ids=repr)
async def test_binary_frames_get_an_error(channel_layer, data):
    assert "JSON object" in await error_and_still_open({"bytes": data})


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


# Faults: sockets that leave at the worst moment, or come and go by the thousand.


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




# A busy room, the size gs4/settings.py sizes the layers' capacity for: every socket sends its
# whole burst at once, without waiting for anything, and every socket must hear every message.
SOCKETS, MESSAGES = 20, 50


async def test_a_busy_room_loses_nothing(channel_layer):
    sockets = [(await join("busy"))[0] for _ in range(SOCKETS)]
    for n, socket in enumerate(sockets):
        for m in range(MESSAGES):
            await socket.send_json_to({"message": f"{n}:{m}"})
    for socket in sockets:
        heard = [(await socket.receive_json_from(timeout=10))["message"] for _ in range(
            SOCKETS * MESSAGES)]
        # Every message once, and each sender's messages in the order they were sent.
        sent = [[f"{n}:{m}" for m in range(MESSAGES)] for n in range(SOCKETS)]
        assert sorted(heard) == sorted(sum(sent, []))
        for n, theirs in enumerate(sent):
            assert [h for h in heard if h.startswith(f"{n}:")] == theirs
        assert await socket.receive_nothing()
    for socket in sockets:
        await socket.disconnect()
