"""Small clients for the tests: in-process (WebsocketCommunicator) and real (websockets)."""

import asyncio
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import websockets
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer
from channels.testing import WebsocketCommunicator

from chat.models import Message
from gs5.asgi import application
from testkit.servers import server_env

LESSON = Path(__file__).resolve().parent.parent
# Browsers send their page's origin; AllowedHostsOriginValidator refuses a handshake without one.
ORIGIN = "http://127.0.0.1:8000"
FRAME_KEYS = {"message", "created", "id"}


async def join(room="lobby", origin=ORIGIN):
    """A communicator connected to `room`, its first frame read: (communicator, first frame)."""
    headers = [(b"origin", origin.encode())] if origin else []
    communicator = WebsocketCommunicator(application, f"/ws/chat/{room}/", headers=headers)
    # Connecting reads the history from the database: allow more than the default second.
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    first = await communicator.receive_json_from(5)
    assert set(first) == {"history", "channel_name"}
    return communicator, first


def texts(frames):
    """The texts of stored-message frames, checking that each has its message, time and id."""
    for frame in frames:
        assert set(frame) == FRAME_KEYS, frame
        assert datetime.fromisoformat(frame["created"]).tzinfo is not None
    return [frame["message"] for frame in frames]


async def receive_text(communicator, timeout=5):
    """The text of the next frame, which must be a stored message sent to the room."""
    # Each message waits for a database write first: allow more than the default second.
    return texts([await communicator.receive_json_from(timeout)])[0]


@database_sync_to_async
def stored(room):
    """The texts saved for `room`, oldest first, read with the ORM (in a thread, as it must)."""
    messages = Message.objects.filter(room__name=room).order_by("created", "id")
    return list(messages.values_list("text", flat=True))


async def group_members(layer, group):
    """The channel names in a group, read from the layer's own storage."""
    if isinstance(layer, InMemoryChannelLayer):
        return set(layer.groups.get(group, {}))
    # channels_redis keeps a group as a sorted set under "<prefix>:group:<name>".
    connection = layer.connection(layer.consistent_hash(group))
    return {name.decode() for name in await connection.zrange(layer._group_key(group), 0, -1)}


async def ws_join(server, room="lobby", origin=True):
    """A real websocket client in `room` on a running server: (socket, first frame)."""
    ws = await websockets.connect(
        server.ws(f"/ws/chat/{room}/"), origin=server.origin if origin is True else origin,
        open_timeout=10,
    )
    first = await recv_json(ws)
    assert set(first) == {"history", "channel_name"}
    return ws, first


async def recv_json(ws, timeout=10):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def nothing_more(ws, timeout=0.3):
    """True if no frame arrives within `timeout` seconds."""
    try:
        frame = await asyncio.wait_for(ws.recv(), timeout)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected frame: {frame!r}")


def stored_on_server(database_url, room):
    """The texts a server saved for `room`, read by `manage.py shell` with the server's database."""
    code = (
        "import json; from chat.models import Message; "
        f"rows = Message.objects.filter(room__name={room!r}).order_by('created', 'id'); "
        "print(json.dumps(list(rows.values_list('text', flat=True))))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code], cwd=LESSON, check=True,
        env=server_env({"DATABASE_URL": database_url}), capture_output=True, text=True,
    )
    return json.loads(result.stdout)
