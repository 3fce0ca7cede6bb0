"""Small clients for the tests: in-process (WebsocketCommunicator) and real (websockets)."""

import asyncio
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import websockets
from channels.testing import WebsocketCommunicator

from gs5.asgi import application
from testkit.servers import server_env

LESSON = Path(__file__).resolve().parent.parent
# Browsers send their page's origin; AllowedHostsOriginValidator refuses a handshake without one.
ORIGIN = "http://127.0.0.1:8000"
FRAME_KEYS = {"message", "created", "id"}


def stored_frame(frame):
    """`frame`, checked to be a stored message: its text, an ISO 8601 time and an integer id."""
    assert set(frame) == FRAME_KEYS, frame
    assert datetime.fromisoformat(frame["created"]).tzinfo is not None
    assert isinstance(frame["id"], int)
    return frame


async def join(room="lobby", timeout=5):
    """A communicator connected to `room`, its first frame read: (communicator, first frame)."""
    communicator = WebsocketCommunicator(
        application, f"/ws/chat/{room}/", headers=[(b"origin", ORIGIN.encode())]
    )
    # Connecting reads the history in a database thread: allow more than the default second.
    connected, _ = await communicator.connect(timeout)
    assert connected
    first = await communicator.receive_json_from(timeout)
    assert set(first) == {"history", "channel_name"}
    return communicator, first


async def ws_join(server, room="lobby"):
    """A real websocket client in `room` on a running server: (socket, first frame)."""
    ws = await websockets.connect(
        server.ws(f"/ws/chat/{room}/"), origin=server.origin, open_timeout=10
    )
    first = await recv_json(ws)
    assert set(first) == {"history", "channel_name"}
    return ws, first


async def recv_json(ws, timeout=10):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def nothing_more(ws, timeout=0.5):
    """True if no frame arrives within `timeout` seconds."""
    try:
        frame = await asyncio.wait_for(ws.recv(), timeout)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected frame: {frame!r}")


def manage_py_shell(code, env):
    """Run `code` in `manage.py shell -c` (its own process) and return what it prints."""
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code], cwd=LESSON,
        env=server_env(env), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def stored_on_server(database_url, room):
    """[(id, text)] of the rows a server saved for `room`, oldest first."""
    code = (
        "import json; from chat.models import Message; "
        f"rows = Message.objects.filter(room__name={room!r}).order_by('id'); "
        "print(json.dumps(list(rows.values_list('id', 'text'))))"
    )
    output = manage_py_shell(code, {"DATABASE_URL": database_url})
    return [tuple(row) for row in json.loads(output)]
