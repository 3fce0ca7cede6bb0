"""gs8 as it runs: real servers (Daphne's runserver), real websocket clients, headless Chromium.

Every server here gets a copy of a SQLite file migrated once for the module, with users alice
and bob and a logged-in session for each, so that no test leaves rows in the learner's database.
"""

import asyncio
import json
import sqlite3
import subprocess
import sys
import urllib.request

import pytest
import websockets
from chat_clients import (
    LESSON,
    handshake_status,
    next_frame,
    recv_json,
    sessions_on,
    ws_join,
    ws_next_said,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from chat.flood import FLOOD_CLOSE_CODE, FLOOD_ERROR
from testkit.servers import server_env

hostile = pytest.mark.hostile
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """(a migrated SQLite file, {username: session key}) for alice and bob, made once."""
    path = tmp_path_factory.mktemp("gs8") / "template.sqlite3"
    url = f"sqlite:///{path}"
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                   cwd=LESSON, env=server_env({"DATABASE_URL": url}), check=True, timeout=120)
    return path, sessions_on(url, "alice", "bob")


@pytest.fixture
def database_url(tmp_path, template):
    path = tmp_path / "gs8.sqlite3"
    # SQLite's backup API copies a consistent database, write-ahead log included.
    with sqlite3.connect(template[0]) as source, sqlite3.connect(path) as copy:
        source.backup(copy)
    return f"sqlite:///{path}"


@pytest.fixture
def sessions(template):
    return template[1]


@pytest.fixture
def server(start_server, database_url):
    return start_server(env={"DATABASE_URL": database_url}, migrate=False)


async def messages(ws, count):
    """The next `count` chat messages' texts on a real socket, skipping presence updates."""
    return [(await ws_next_said(ws))[1] for _ in range(count)]


@hostile("frames of 1 MiB - 1 byte and of 1 MiB over a real socket",
         "the first gets `{\"error\": ...}` (refused unparsed); the second is dropped by Daphne "
         "with the connection (1009); others in the room go on, a new connection works")
async def test_a_mebibyte_frame_is_never_processed(server, sessions):
    bystander, _ = await ws_join(server, "big", sessions["bob"])
    ws, _ = await ws_join(server, "big", sessions["alice"])
    await ws.send("x" * (MiB - 1))
    assert "at most" in (await next_frame(lambda: recv_json(ws), "error"))["error"]
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.send(json.dumps({"message": "x" * MiB}))
        while True:
            await recv_json(ws)
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
    await bystander.send(json.dumps({"message": "after the big one"}))
    assert await ws_next_said(bystander) == ("bob", "after the big one")
    ws, first = await ws_join(server, "big", sessions["alice"])
    assert [m["message"] for m in first["history"]] == ["after the big one"]
    await ws.close()
    await bystander.close()


@hostile("a flood: one socket sends 300 messages as fast as it can while three others talk",
         "the flooder gets its burst through, then `{\"error\": ...}` frames, then a close "
         "with 4029; the other sockets hear every message of each other, in order")
async def test_a_flooder_is_closed_and_the_others_are_not_starved(server, sessions):
    flooder, _ = await ws_join(server, "flood", sessions["alice"])
    others = [(await ws_join(server, "flood", sessions["bob"]))[0] for _ in range(3)]

    async def flood():
        for n in range(300):
            await flooder.send(json.dumps({"message": f"flood {n}"}))
        frames = []
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                frames.append(await recv_json(flooder))
        return closed.value.rcvd.code, frames

    async def talk(s, ws):
        for n in range(20):
            await ws.send(json.dumps({"message": f"other {s}:{n}"}))
            await asyncio.sleep(0.01)

    (code, frames), *_ = await asyncio.gather(flood(), *(talk(s, ws) for s, ws in
                                                         enumerate(others)))
    assert code == FLOOD_CLOSE_CODE
    refused = [frame for frame in frames if "error" in frame]
    assert refused and all(frame == {"error": FLOOD_ERROR} for frame in refused)
    for ws in others:
        heard = []
        while sum(t.startswith("other") for t in heard) < 60 or sum(
                t.startswith("flood") for t in heard) < 30:
            heard.append((await ws_next_said(ws))[1])
        for s in range(3):
            assert [t for t in heard if t.startswith(f"other {s}:")] == [
                f"other {s}:{n}" for n in range(20)]
        # The flooder's burst reached the room, in order (a few more may follow, refilled).
        assert [t for t in heard if t.startswith("flood")][:30] == [
            f"flood {n}" for n in range(30)]
        await ws.close()


@hostile("the server restarts while a socket is open; messages are sent while it is away",
         "the client reconnects with `?after=<last id seen>` and gets exactly what it missed")
async def test_after_a_restart_a_client_catches_up_with_after(server, sessions):
    alice, _ = await ws_join(server, "lobby", sessions["alice"])
    bob, _ = await ws_join(server, "lobby", sessions["bob"])
    for text in ("one", "two"):
        await bob.send(json.dumps({"message": text}))
    frames = [await next_frame(lambda: recv_json(alice), "message") for _ in range(2)]
    last_seen = frames[-1]["id"]
    server.restart()
    with pytest.raises(websockets.ConnectionClosed):
        await recv_json(alice)
    bob, _ = await ws_join(server, "lobby", sessions["bob"])
    for text in ("three", "four"):
        await bob.send(json.dumps({"message": text}))
    await messages(bob, 2)
    alice, first = await ws_join(server, "lobby", sessions["alice"], query=f"?after={last_seen}")
    assert [m["message"] for m in first["history"]] == ["three", "four"]
    assert all(m["id"] > last_seen for m in first["history"])
    for ws in (alice, bob):
        await ws.close()


@hostile("on a real server: a handshake with no session, and one with `?after=oops`",
         "both refused at the handshake (403); a room page sends an anonymous visitor to log in")
async def test_a_real_server_refuses_anonymous_and_bad_after_handshakes(server, sessions):
    assert await handshake_status(server) == 403
    assert await handshake_status(server, session=sessions["alice"], query="?after=oops") == 403
    assert await handshake_status(server, session=sessions["alice"], query="?after=0") == 101
    page = urllib.request.urlopen(server.url + "/chat/lobby/", timeout=10)
    assert page.url == server.url + "/accounts/login/?next=/chat/lobby/"


def text_of(browser, element_id):
    element = browser.find_element(By.ID, element_id)
    return element.get_property("value") if element.tag_name == "textarea" else element.text


SAY_WHILE_AWAY = """\
from django.contrib.auth.models import User
from chat.models import Message, Room
room, _ = Room.objects.get_or_create(name="lobby")
bob = User.objects.get(username="bob")
for n in range(60):
    Message.objects.create(room=room, user=bob, text=f"while away {n}")
"""


@hostile("the server stops under an open page; the user types; the server comes back",
         "the page says it is offline and keeps the text; it reconnects by itself, catches up "
         "with everything it missed (`?after=`), sends the kept text, and shows nothing twice")
def test_the_page_reconnects_catches_up_and_sends_what_was_typed_offline(
    server, sessions, database_url, browser
):
    wait = WebDriverWait(browser, 40)
    browser.get(server.url + "/accounts/login/")
    browser.add_cookie({"name": "sessionid", "value": sessions["alice"], "path": "/"})
    browser.get(server.url + "/chat/lobby/")
    wait.until(lambda _: text_of(browser, "chat-state") == "open")
    typed = browser.find_element(By.ID, "chat-message-input")
    typed.send_keys("before", Keys.ENTER)
    wait.until(lambda _: "alice: before" in text_of(browser, "chat-log"))

    server.stop()
    wait.until(lambda _: text_of(browser, "chat-state").startswith("offline"))
    typed.send_keys("typed offline", Keys.ENTER)
    assert text_of(browser, "chat-pending") == "typed offline"
    # 60 messages saved while the page is away: more than the 50 of a plain history, so only
    # a reconnection with ?after= gets them all.
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", SAY_WHILE_AWAY],
                          cwd=LESSON, env=server_env({"DATABASE_URL": database_url}),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    server.start(migrate=False)  # the same port: what a restart looks like to the page

    wait.until(lambda _: text_of(browser, "chat-pending") == "(nothing)")
    wait.until(lambda _: "alice: typed offline" in text_of(browser, "chat-log"))
    log = text_of(browser, "chat-log")
    for line in ["alice: before", "alice: typed offline",
                 *(f"bob: while away {n}" for n in range(60))]:
        assert log.count(line + "\n") == 1, line
    assert text_of(browser, "chat-state") == "open"
