"""The room chat in-process, on both channel layers, for the async consumer and its sync twin."""

import asyncio
import json
import uuid

import pytest
import redis.asyncio as redis
from channels.testing import WebsocketCommunicator

from demo.consumers import BINARY_JSON_ERROR, EMPTY_JSON_ERROR
from demo.flood import FLOOD_CLOSE_CODE, FLOOD_ERROR
from gs7.asgi import application

ORIGIN = b"http://127.0.0.1:8000"
CHATS = ["/ws/ajwc/", "/ws/jwc/"]
hostile = pytest.mark.hostile


def new_room():
    return f"room-{uuid.uuid4().hex[:12]}"


async def receive_error(communicator):
    frame = json.loads(await communicator.receive_from())
    assert list(frame) == ["error"] and isinstance(frame["error"], str) and frame["error"]
    return frame["error"]


async def group_members(layer, group):
    """The channels the layer holds in a group: in memory, or in Redis under the layer's prefix."""
    if hasattr(layer, "groups"):
        return set(layer.groups.get(group, {}))
    async with redis.from_url(layer.hosts[0]["address"]) as client:
        return {m.decode() for m in await client.zrange(f"{layer.prefix}:group:{group}", 0, -1)}


@pytest.mark.parametrize("chat", CHATS)
async def test_a_message_reaches_every_socket_in_the_room_the_senders_too(
    channel_layer, connect, chat
):
    room = new_room()
    sockets = [await connect(f"{chat}{room}/") for _ in range(3)]
    await sockets[0].send_json_to({"message": "hello room"})
    for socket in sockets:
        assert await socket.receive_json_from() == {"message": "hello room"}
        assert await socket.receive_nothing()


@pytest.mark.parametrize("chat", CHATS)
async def test_rooms_are_isolated(channel_layer, connect, chat):
    room_a, room_b = new_room(), new_room()
    in_a, in_b = await connect(f"{chat}{room_a}/"), await connect(f"{chat}{room_b}/")
    await in_a.send_json_to({"message": "only for A"})
    assert await in_a.receive_json_from() == {"message": "only for A"}
    # B's next frame is its own message: nothing from A came before it.
    await in_b.send_json_to({"message": "only for B"})
    assert await in_b.receive_json_from() == {"message": "only for B"}
    assert await in_a.receive_nothing()


async def test_the_async_consumer_and_its_sync_twin_share_rooms(channel_layer, connect):
    room = new_room()
    async_socket = await connect(f"/ws/ajwc/{room}/")
    sync_socket = await connect(f"/ws/jwc/{room}/")
    await async_socket.send_json_to({"message": "from async"})
    await sync_socket.send_json_to({"message": "from sync"})
    for socket in (async_socket, sync_socket):
        frames = [await socket.receive_json_from() for _ in range(2)]
        assert sorted(f["message"] for f in frames) == ["from async", "from sync"]


@pytest.mark.parametrize("chat", CHATS)
async def test_unicode_markup_and_the_longest_message_arrive_unchanged(
    channel_layer, connect, chat
):
    room = new_room()
    sender, other = await connect(f"{chat}{room}/"), await connect(f"{chat}{room}/")
    for message in ["ünïcödé ✓ 🎉", "<script>alert(1)</script>", "  padded  ", "é" * 1000]:
        await sender.send_json_to({"message": message})
        assert await sender.receive_json_from() == {"message": message}
        assert await other.receive_json_from() == {"message": message}


@hostile("an object that is not a valid message: no `message`, not a string, empty, only "
         "whitespace, 1001 characters, a lone surrogate, a `to` key",
         "`{\"error\": ...}` saying which, to the sender only; the socket stays open")
@pytest.mark.parametrize("chat", CHATS)
@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ({}, 'the object has no "message" key'),
        ({"text": "hi"}, 'the object has no "message" key'),
        ({"message": 42}, '"message" must be a string'),
        ({"message": None}, '"message" must be a string'),
        ({"message": ["hi"]}, '"message" must be a string'),
        ({"message": ""}, '"message" must not be empty or only whitespace'),
        ({"message": " \t\n\u00a0"}, '"message" must not be empty or only whitespace'),
        ({"message": "x" * 1001}, '"message" has 1001 characters; at most 1000 are allowed'),
        ({"message": "\ud800"}, '"message" holds characters that are not valid Unicode text'),
        ({"message": "hi", "to": "someone"},
         'direct messages ("to") are not supported here: every message goes to the room'),
    ],
    ids=["empty-object", "no-message", "number", "null", "array", "empty", "whitespace",
         "too-long", "lone-surrogate", "direct"],
)
async def test_an_invalid_message_gets_an_error_on_the_sender_only(
    channel_layer, connect, chat, frame, error
):
    room = new_room()
    sender, other = await connect(f"{chat}{room}/"), await connect(f"{chat}{room}/")
    await sender.send_json_to(frame)
    assert await receive_error(sender) == error
    # Nothing was broadcast: the other socket's next frame is the valid message that follows.
    await sender.send_json_to({"message": "valid"})
    assert await sender.receive_json_from() == {"message": "valid"}
    assert await other.receive_json_from() == {"message": "valid"}


@pytest.mark.parametrize("chat", CHATS)
@pytest.mark.parametrize(
    ("event", "error"),
    [
        pytest.param({"text": "not json"}, "the frame is not JSON: ", id="not-json",
                     marks=pytest.mark.hostile("malformed JSON to a room: `not json`",
                                               "`{\"error\": ...}` to the sender only; the "
                                               "socket stays open")),
        pytest.param({"text": "[1, 2]"}, "send a JSON object, not an array", id="array",
                     marks=pytest.mark.hostile("JSON that is not an object to a room: `[1, 2]`",
                                               "`{\"error\": ...}` to the sender only; the "
                                               "socket stays open")),
        pytest.param({"text": ""}, EMPTY_JSON_ERROR, id="empty",
                     marks=pytest.mark.hostile("an empty text frame to a room",
                                               "`{\"error\": ...}` to the sender only; the "
                                               "socket stays open")),
        pytest.param({"bytes": b'{"message": "hi"}'}, BINARY_JSON_ERROR, id="binary",
                     marks=pytest.mark.hostile("a binary frame to a room",
                                               "`{\"error\": ...}` to the sender only; the "
                                               "socket stays open")),
    ],
)
async def test_a_bad_frame_gets_an_error_on_the_sender_only(channel_layer, connect, chat, event,
                                                            error):
    room = new_room()
    sender, other = await connect(f"{chat}{room}/"), await connect(f"{chat}{room}/")
    await sender.send_input({"type": "websocket.receive", **event})
    assert (await receive_error(sender)).startswith(error)
    await other.send_json_to({"message": "still open"})
    assert await sender.receive_json_from() == {"message": "still open"}
    assert await other.receive_json_from() == {"message": "still open"}


@hostile("a frame that names an event type: `{\"type\": \"websocket.disconnect\" (or "
         "\"websocket.close\", \"chat.message\", \"no.such.handler\"), \"message\": ...}`",
         "an ordinary message: the room gets `{\"message\": ...}`; the client chooses no handler")
@pytest.mark.parametrize("chat", CHATS)
@pytest.mark.parametrize(
    "kind", ["websocket.disconnect", "websocket.close", "chat.message", "no.such.handler"]
)
async def test_a_type_key_from_the_client_picks_no_handler(channel_layer, connect, chat, kind):
    # The client's "type" is just an extra key: the event we send always says "chat.message".
    room = new_room()
    sender, other = await connect(f"{chat}{room}/"), await connect(f"{chat}{room}/")
    await sender.send_json_to({"type": kind, "message": "typed"})
    assert await sender.receive_json_from() == {"message": "typed"}
    assert await other.receive_json_from() == {"message": "typed"}
    await other.send_json_to({"message": "both still open"})
    assert await sender.receive_json_from() == {"message": "both still open"}


@pytest.mark.parametrize("chat", CHATS)
async def test_disconnect_leaves_the_group(channel_layer, connect, chat):
    room = new_room()
    group = f"chat_{room}"
    staying, leaving = await connect(f"{chat}{room}/"), await connect(f"{chat}{room}/")
    both = await group_members(channel_layer, group)
    assert len(both) == 2
    await leaving.disconnect()
    assert leaving.future.exception() is None
    one = await group_members(channel_layer, group)
    assert len(one) == 1 and one < both
    await staying.send_json_to({"message": "alone now"})
    assert await staying.receive_json_from() == {"message": "alone now"}
    await staying.disconnect()
    assert await group_members(channel_layer, group) == set()


@hostile("a room name with a space, unicode, a dot, a newline, 51 characters, a semicolon",
         "refused at the handshake (`DenyConnection`: 403 from a real server)")
@pytest.mark.parametrize("chat", CHATS)
@pytest.mark.parametrize(
    "room",
    ["bad name", "café", "a.b", "room%0A", "x" * 51, "semi;colon"],
    ids=["space", "accent", "dot", "newline", "51-chars", "semicolon"],
)
async def test_an_invalid_room_name_is_refused_at_the_handshake(channel_layer, chat, room):
    communicator = WebsocketCommunicator(
        application, f"{chat}{room}/", headers=[(b"origin", ORIGIN)]
    )
    # Closed before accept(): the server turns this into an HTTP 403, not a websocket.
    assert await communicator.connect() == (False, 1000)
    # The server then reports the disconnect; the consumer, in no group, finishes cleanly.
    await communicator.disconnect()
    assert communicator.future.exception() is None


@pytest.mark.parametrize("chat", CHATS)
async def test_room_names_at_the_limits_are_accepted(channel_layer, connect, chat):
    for room in ["a", "A-z_0-9", "x" * 50]:
        socket = await connect(f"{chat}{room}/")
        await socket.send_json_to({"message": room})
        assert await socket.receive_json_from() == {"message": room}
        await socket.disconnect()


@hostile("a path with no route: an empty room, an extra segment, an unknown endpoint",
         "refused at the handshake")
@pytest.mark.parametrize(
    "path", ["/ws/ajwc//", "/ws/ajwc/a/b/", "/ws/jwc/a/b/", "/ws/ajwc/../jwc/", "/ws/nope/"]
)
async def test_a_path_without_a_route_is_refused(path):
    communicator = WebsocketCommunicator(application, path, headers=[(b"origin", ORIGIN)])
    # Awaiting the application ends as soon as the router raises (connect() would wait out its
    # whole timeout first).
    await communicator.send_input({"type": "websocket.connect"})
    with pytest.raises(ValueError, match="No route found"):
        async with asyncio.timeout(5):
            await communicator.future


@hostile("a frame of 64 KiB to a room: valid JSON, its message far too long",
         "`{\"error\": ...}` to the sender only; the socket stays open")
@pytest.mark.parametrize("chat", CHATS)
async def test_a_frame_of_64_kib_gets_an_error(channel_layer, connect, chat):
    room = new_room()
    sender, other = await connect(f"{chat}{room}/"), await connect(f"{chat}{room}/")
    await sender.send_to(text_data=json.dumps({"message": "x" * 65536}))
    assert await receive_error(sender) == '"message" has 65536 characters; at most 1000 are allowed'
    await sender.send_json_to({"message": "valid"})
    assert await other.receive_json_from() == {"message": "valid"}


@hostile("a flood: one socket sends more frames than its burst allows, then a burst more",
         "over the limit: `{\"error\": ...}` and the frame is dropped; a whole burst over: "
         "closed with 4029; the room is served throughout")
@pytest.mark.parametrize("chat", CHATS)
async def test_a_flood_is_refused_then_closed_and_the_room_goes_on(
    channel_layer, connect, settings, chat
):
    # No tokens come back during the test (CHAT_RATE = 0): it counts frames, not time.
    settings.CHAT_RATE, settings.CHAT_BURST = 0, 3
    room = new_room()
    flooder, other = await connect(f"{chat}{room}/"), await connect(f"{chat}{room}/")
    for n in range(3):
        await flooder.send_json_to({"message": f"flood {n}"})
        assert await other.receive_json_from() == {"message": f"flood {n}"}
        assert await flooder.receive_json_from() == {"message": f"flood {n}"}
    for frame in ['{"message": "flood 3"}', "not even JSON", '{"message": "flood 5"}']:
        await flooder.send_to(text_data=frame)
        assert await flooder.receive_json_from() == {"error": FLOOD_ERROR}
    assert await other.receive_nothing()
    await flooder.send_json_to({"message": "flood 6"})
    assert await flooder.receive_output() == {"type": "websocket.close", "code": FLOOD_CLOSE_CODE}
    await flooder.disconnect()
    assert len(await group_members(channel_layer, f"chat_{room}")) == 1
    await other.send_json_to({"message": "still served"})
    assert await other.receive_json_from() == {"message": "still served"}


@hostile("a socket that disconnects in the middle of a broadcast",
         "everyone else gets every message, in order")
@pytest.mark.parametrize("channel_layer", ["in-memory"], indirect=True)
@pytest.mark.parametrize("chat", CHATS)
async def test_a_socket_leaving_mid_broadcast_disturbs_no_one(channel_layer, connect, chat):
    # In memory only: on Redis a leaving socket can, rarely, take a message for another socket
    # of its process with it (gs4's docs page, "Delivery").
    room = new_room()
    sender = await connect(f"{chat}{room}/")
    stayers = [await connect(f"{CHATS[n % 2]}{room}/") for n in range(3)]
    leavers = [await connect(f"{CHATS[n % 2]}{room}/") for n in range(3)]

    async def broadcast():
        for n in range(25):
            await sender.send_json_to({"message": f"message {n}"})

    async def leave():
        for communicator in leavers:
            await asyncio.sleep(0)  # let the broadcast run in between
            await communicator.disconnect()

    await asyncio.gather(broadcast(), leave())
    expected = [{"message": f"message {n}"} for n in range(25)]
    for communicator in (sender, *stayers):
        assert [await communicator.receive_json_from() for _ in expected] == expected
    assert len(await group_members(channel_layer, f"chat_{room}")) == 4


@hostile("1000 sockets connect and disconnect, 20 at a time, half of them on each chat",
         "no group membership is left behind, in memory or in Redis")
@pytest.mark.parametrize("channel_layer", ["redis"], indirect=True)
async def test_1000_connections_in_and_out_leave_no_membership(channel_layer):
    # On Redis, where a membership left behind would outlive the server. gs4 runs the same
    # test on both layers; these consumers join and leave their group in the same way.
    room = new_room()

    async def in_and_out(n):
        communicator = WebsocketCommunicator(
            application, f"{CHATS[n % 2]}{room}/", headers=[(b"origin", ORIGIN)]
        )
        # A generous timeout: on a busy machine 20 handshakes at once can take a while.
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        await communicator.disconnect(timeout=10)

    for first in range(0, 1000, 20):
        await asyncio.gather(*(in_and_out(n) for n in range(first, first + 20)))
    assert await group_members(channel_layer, f"chat_{room}") == set()
    # channels_redis deletes a group's sorted set with its last member: no key is left.
    async with redis.from_url(channel_layer.hosts[0]["address"]) as client:
        groups = f"{channel_layer.prefix}:group:*"
        assert [key async for key in client.scan_iter(match=groups)] == []
