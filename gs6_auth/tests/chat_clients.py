"""Small clients for the tests: in-process (WebsocketCommunicator), real websockets, and a
script "browser" that logs in through Django's login form."""

import asyncio
import http.cookiejar
import json
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

import websockets
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer
from channels.testing import WebsocketCommunicator
from django.conf import settings

from chat.models import Message
from gs6.asgi import application
from testkit.servers import server_env

LESSON = Path(__file__).resolve().parent.parent
# Browsers send their page's origin; AllowedHostsOriginValidator refuses a handshake without one.
ORIGIN = "http://127.0.0.1:8000"
FRAME_KEYS = {"user", "message", "created", "id"}
PASSWORD = "a long test passphrase, not a real one"


def communicator(room="lobby", session=None, origin=ORIGIN):
    """A communicator for `room` that sends what a browser sends: its Origin and, when logged
    in, the session cookie."""
    headers = [(b"origin", origin.encode())] if origin else []
    if session:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()))
    return WebsocketCommunicator(application, f"/ws/chat/{room}/", headers=headers)


async def join(room="lobby", session=None, origin=ORIGIN):
    """A communicator connected to `room`, its first frame read: (communicator, first frame)."""
    chat = communicator(room, session, origin)
    # Connecting reads the session, the user and the history: allow more than a second.
    connected, _ = await chat.connect(timeout=5)
    assert connected
    first = await chat.receive_json_from(5)
    assert set(first) == {"history", "channel_name"}
    return chat, first


async def refused(chat):
    """True if the handshake is refused: closed before it was ever accepted."""
    connected, _ = await chat.connect(timeout=5)
    return not connected


def said(frames):
    """[(user, text)] of stored-message frames, checking each has its user, text, time and id."""
    for frame in frames:
        assert set(frame) == FRAME_KEYS, frame
        assert datetime.fromisoformat(frame["created"]).tzinfo is not None
    return [(frame["user"], frame["message"]) for frame in frames]


async def receive_said(chat, timeout=5):
    """(user, text) of the next frame, which must be a stored message sent to the room."""
    return said([await chat.receive_json_from(timeout)])[0]


@database_sync_to_async
def stored(room):
    """[(username, text)] saved for `room`, oldest first, read with the ORM in a thread."""
    rows = Message.objects.filter(room__name=room).order_by("created", "id")
    return list(rows.values_list("user__username", "text"))


async def group_members(layer, group):
    """The channel names in a group, read from the layer's own storage."""
    if isinstance(layer, InMemoryChannelLayer):
        return set(layer.groups.get(group, {}))
    connection = layer.connection(layer.consistent_hash(group))
    return {name.decode() for name in await connection.zrange(layer._group_key(group), 0, -1)}


# Real servers.


def create_user(database_url, username):
    """`manage.py createsuperuser`, as a learner makes a user, on the server's database."""
    env = {"DATABASE_URL": database_url, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", username,
         "--email", f"{username}@example.com"],
        cwd=LESSON, env=server_env(env), check=True, capture_output=True, timeout=60,
    )


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the test looks at the 302 itself


class Visitor:
    """A browser without JavaScript: keeps its cookies, never follows a redirect."""

    def __init__(self, server):
        self.server = server
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), NoRedirects
        )

    def request(self, path, form=None):
        """(status, headers, page) for a GET, or a POST of `form`."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.server.url + path, data=data, timeout=10) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()

    def cookie(self, name):
        return next((c.value for c in self.cookies if c.name == name), None)

    @property
    def session(self):
        return self.cookie(settings.SESSION_COOKIE_NAME)

    def post_form(self, page_path, action, fields):
        """Load a page, take the CSRF token from its form, and post `fields` to `action`."""
        status, _, page = self.request(page_path)
        assert status == 200, (status, page_path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        return self.request(action, {**fields, "csrfmiddlewaretoken": token})

    def log_in(self, username, password=PASSWORD):
        return self.post_form(
            "/accounts/login/", "/accounts/login/", {"username": username, "password": password}
        )

    def log_out(self):
        # The room page's own logout form, as a person would click it.
        return self.post_form("/chat/lobby/", "/accounts/logout/", {})


async def ws_connect(server, room="lobby", session=None, origin=True):
    """A real websocket to `room`, sending the session cookie as a browser would."""
    headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"} if session else {}
    return await websockets.connect(
        server.ws(f"/ws/chat/{room}/"), origin=server.origin if origin is True else origin,
        additional_headers=headers, open_timeout=10,
    )


async def ws_join(server, room="lobby", session=None):
    """A real websocket in `room`, its first frame read: (socket, first frame)."""
    ws = await ws_connect(server, room, session)
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
