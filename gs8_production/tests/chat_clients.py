"""Small clients for the tests: in-process (WebsocketCommunicator) and real (websockets), each
sending what a browser sends: its page's Origin and the session cookie."""

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
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from chat.models import Message
from gs8.asgi import application
from testkit.servers import server_env

LESSON = Path(__file__).resolve().parent.parent
# Browsers send their page's origin; AllowedHostsOriginValidator refuses a handshake without one.
ORIGIN = "http://127.0.0.1:8000"
COOKIE = settings.SESSION_COOKIE_NAME  # "sessionid"


def communicator(room="lobby", session=None, origin=ORIGIN, query="", app=application):
    """A communicator for `room` with the headers of a browser: its Origin (none if None) and,
    when logged in, the session cookie. `query` is the URL's query string, like "?after=3"."""
    headers = [(b"origin", origin.encode())] if origin else []
    if session:
        headers.append((b"cookie", f"{COOKIE}={session}".encode()))
    return WebsocketCommunicator(app, f"/ws/chat/{room}/{query}", headers=headers)


def session_for(username):
    """A session cookie for a new user, as after a login: Django's test client logs in without
    a password (force_login) and keeps the cookie it set. Sync: the ORM runs here."""
    client = Client()
    client.force_login(User.objects.create_user(username))
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def join(room="lobby", session=None, query=""):
    """A communicator connected to `room`: (communicator, its first frame, its first list of
    users online)."""
    chat = communicator(room, session, query=query)
    # Connecting reads the session, the user and the history: allow more than a second.
    connected, _ = await chat.connect(timeout=5)
    assert connected
    first = await chat.receive_json_from(5)
    assert set(first) == {"history", "channel_name"}
    return chat, first, await next_users(chat)


async def refused(chat):
    """True if the handshake is refused: closed before it was ever accepted."""
    connected, _ = await chat.connect(timeout=5)
    return not connected


async def next_frame(receive, key):
    """The next frame that has `key` ("users", or "message" for a chat message). Presence
    updates come whenever anyone joins or leaves, between the frames a test waits for."""
    while True:
        frame = await receive()
        if key in frame:
            return frame
        assert "users" in frame, frame  # the only kind of frame that may come in between


async def next_users(chat, timeout=5):
    return (await next_frame(lambda: chat.receive_json_from(timeout), "users"))["users"]


async def next_said(chat, timeout=5):
    """(user, text) of the next chat message, checked to be a stored one."""
    return said(await next_frame(lambda: chat.receive_json_from(timeout), "message"))


def said(frame):
    assert set(frame) == {"user", "message", "created", "id"}, frame
    assert datetime.fromisoformat(frame["created"]).tzinfo is not None
    assert isinstance(frame["id"], int)
    return frame["user"], frame["message"]


# Real servers.


def manage_py_shell(code, env):
    """Run `code` in `manage.py shell -c` (its own process) and return what it prints."""
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code], cwd=LESSON,
        env=server_env(env), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


SESSIONS = """\
import json
from django.contrib.auth.models import User
from django.test import Client
sessions = {}
for name in %r:
    client = Client()
    client.force_login(User.objects.get_or_create(username=name)[0])
    sessions[name] = client.cookies["sessionid"].value
print(json.dumps(sessions))
"""


def sessions_on(database_url, *usernames):
    """{username: session key}, users and their sessions made on a server's database, as after
    a login (without a password: the real form has its own test, in Chromium)."""
    return json.loads(manage_py_shell(SESSIONS % (usernames,), {"DATABASE_URL": database_url}))


async def ws_connect(server, room="lobby", session=None, origin=None, query=""):
    headers = {"Cookie": f"{COOKIE}={session}"} if session else {}
    return await websockets.connect(
        server.ws(f"/ws/chat/{room}/{query}"), origin=origin or server.origin,
        additional_headers=headers, open_timeout=10, max_size=None,
    )


async def ws_join(server, room="lobby", session=None, query=""):
    """A real websocket in `room`: (socket, its first frame)."""
    ws = await ws_connect(server, room, session, query=query)
    first = await recv_json(ws)
    assert set(first) == {"history", "channel_name"}
    return ws, first


async def recv_json(ws, timeout=10):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def ws_next_users(ws, timeout=10):
    return (await next_frame(lambda: recv_json(ws, timeout), "users"))["users"]


async def ws_next_said(ws, timeout=10):
    return said(await next_frame(lambda: recv_json(ws, timeout), "message"))


async def handshake_status(server, **connect):
    """The HTTP status that answers a handshake (101 if it opened), within 3 seconds."""
    try:
        async with asyncio.timeout(3):
            ws = await ws_connect(server, **connect)
    except websockets.InvalidStatus as refusal:
        return refusal.response.status_code
    await ws.close()
    return 101


# What the database and the layer hold, for tests that check nothing was stored or left behind.


@database_sync_to_async
def stored(room):
    """[(username, text)] saved for `room`, oldest first, read with the ORM in a thread."""
    rows = Message.objects.filter(room__name=room).order_by("id")
    return list(rows.values_list("user__username", "text"))


@database_sync_to_async
def stored_ids(room):
    return list(Message.objects.filter(room__name=room).order_by("id").values_list("id", flat=True))


async def group_members(layer, group):
    """The channel names in a group, read from the layer's own storage."""
    if isinstance(layer, InMemoryChannelLayer):
        return set(layer.groups.get(group, {}))
    connection = layer.connection(layer.consistent_hash(group))
    return {name.decode() for name in await connection.zrange(layer._group_key(group), 0, -1)}
