"""Small clients for the tests: in-process (WebsocketCommunicator) and real (websockets)."""

import asyncio
import contextlib
import json

import websockets
from channels.layers import InMemoryChannelLayer
from channels.testing import WebsocketCommunicator

from gs4.asgi import application

# Browsers send their page's origin; AllowedHostsOriginValidator refuses a handshake without one.
ORIGIN = "http://127.0.0.1:8000"


async def join(room="lobby", origin=ORIGIN, timeout=1):
    """A communicator connected to `room`, its first frame read: (communicator, channel name)."""
    headers = [(b"origin", origin.encode())] if origin else []
    communicator = WebsocketCommunicator(application, f"/ws/chat/{room}/", headers=headers)
    connected, _ = await communicator.connect(timeout)
    assert connected
    first = await communicator.receive_json_from(timeout)
    assert set(first) == {"channel_name"}
    return communicator, first["channel_name"]


async def group_members(layer, group):
    """The channel names in a group, read from the layer's own storage."""
    if isinstance(layer, InMemoryChannelLayer):
        return set(layer.groups.get(group, {}))
    # channels_redis keeps a group as a sorted set under "<prefix>:group:<name>".
    connection = layer.connection(layer.consistent_hash(group))
    return {name.decode() for name in await connection.zrange(layer._group_key(group), 0, -1)}


async def ws_join(server, room="lobby", origin=True):
    """A real websocket client in `room` on a running server: (socket, channel name)."""
    ws = await websockets.connect(
        server.ws(f"/ws/chat/{room}/"), origin=server.origin if origin is True else origin,
        open_timeout=10,
    )
    first = await recv_json(ws)
    return ws, first["channel_name"]


async def recv_json(ws, timeout=10):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def nothing_more(ws, timeout=0.3):
    """True if no frame arrives within `timeout` seconds."""
    try:
        frame = await asyncio.wait_for(ws.recv(), timeout)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected frame: {frame!r}")


def check_burst(heard, sent):
    """`heard` (what one socket received) holds every message of `sent` (one list per sender)
    exactly once, each sender's in the order it sent them."""
    missing = len(sum(sent, [])) - len(heard)
    assert sorted(heard) == sorted(sum(sent, [])), f"{missing} of {len(sum(sent, []))} missing"
    for n, theirs in enumerate(sent):
        assert [h for h in heard if h.startswith(f"{n}:")] == theirs, f"sender {n} out of order"


async def burst(server, room, sockets, messages):
    """Every socket of a room sends its whole burst at once, without waiting for anything;
    then every socket must have heard every message once, each sender's in order."""
    clients = [ws for ws, _ in await asyncio.gather(
        *(ws_join(server, room) for _ in range(sockets)))]
    sent = [[f"{n}:{m}" for m in range(messages)] for n in range(sockets)]

    async def send_all(ws, texts):
        for text in texts:
            await ws.send(json.dumps({"message": text}))

    async def hear_all(ws):
        heard = []
        # Until all arrived, or nothing more comes for 30 s (a busy machine is slow, not lossy).
        with contextlib.suppress(TimeoutError):
            while len(heard) < sockets * messages:
                heard.append((await recv_json(ws, timeout=30))["message"])
        return heard

    results = await asyncio.gather(
        *(send_all(ws, texts) for ws, texts in zip(clients, sent, strict=True)),
        *(hear_all(ws) for ws in clients),
    )
    for heard in results[sockets:]:
        check_burst(heard, sent)
    assert all([await nothing_more(ws) for ws in clients])
    await asyncio.gather(*(ws.close() for ws in clients))
