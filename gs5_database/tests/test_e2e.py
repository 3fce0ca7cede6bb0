"""The lesson as a learner runs it: real servers, real websocket clients, a headless Chromium.

Tests that only look use the shared `lesson_server`. Tests that write get a server of their
own with a database of their own (`database_url`: a SQLite file in tmp_path, or a new
PostgreSQL database), so no test leaves rows in the learner's db.sqlite3.
"""

import asyncio
import json
import urllib.request

import pytest
import websockets
from chat_clients import manage_py_shell, nothing_more, recv_json, stored_on_server, ws_join
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from chat.consumers import HISTORY_LENGTH

SOCKETS, BURST = 20, 10
hostile = pytest.mark.hostile


def get(server, path):
    with urllib.request.urlopen(server.url + path, timeout=10) as response:
        return response.status, response.read().decode()


def test_pages_say_which_database_runs_and_keep_the_tutorials_element_ids(lesson_server):
    status, home = get(lesson_server, "/")
    assert status == 200
    assert "database_sync_to_async" in home and '<code id="database">sqlite</code>' in home
    assert "../.venv/bin/python manage.py" in home
    _, index = get(lesson_server, "/chat/")
    assert 'id="room-name-input"' in index and 'id="room-name-submit"' in index
    _, room = get(lesson_server, "/chat/room_1/")
    for element in ("chat-log", "chat-message-input", "chat-message-submit"):
        assert f'id="{element}"' in room


@hostile("a room name with a space or 51 characters; a foreign `Origin`",
         "refused at the handshake (an HTTP error)")
async def test_bad_rooms_and_foreign_origins_are_refused_at_the_handshake(lesson_server):
    attempts = [("/ws/chat/two%20words/", lesson_server.origin),
                ("/ws/chat/" + "x" * 51 + "/", lesson_server.origin),
                ("/ws/chat/lobby/", "http://evil.example")]
    # All at once: Daphne notices a path with no route on its next check, up to a second later.
    statuses = await asyncio.gather(*(handshake(lesson_server, *attempt) for attempt in attempts))
    assert all(status >= 400 for status in statuses), statuses


async def handshake(server, path, origin):
    """The HTTP status that answers a handshake (101 if it opened), within 3 seconds."""
    try:
        async with asyncio.timeout(3):
            ws = await websockets.connect(server.ws(path), origin=origin)
    except websockets.InvalidStatus as refused:
        return refused.response.status_code
    await ws.close()
    return 101


async def burst(server, room):
    """SOCKETS sockets each send BURST messages at once, without waiting; returns what each
    socket heard, as [(id, text)]."""
    sockets = [(await ws_join(server, room))[0] for _ in range(SOCKETS)]

    async def talk(s, ws):
        for n in range(BURST):
            await ws.send(json.dumps({"message": f"socket {s} message {n}"}))
        heard = [await recv_json(ws) for _ in range(SOCKETS * BURST)]
        await ws.close()
        return [(frame["id"], frame["message"]) for frame in heard]

    return await asyncio.gather(*(talk(s, ws) for s, ws in enumerate(sockets)))


# Each database once, each layer once: SQLite with the in-memory layer, PostgreSQL with Redis.
@pytest.mark.parametrize(
    "database_url, layer", [("sqlite", "in-memory"), ("postgresql", "redis")],
    indirect=["database_url"],
)
async def test_nothing_acknowledged_is_lost_under_bursts_and_after_a_restart(
    database_url, start_server, layer, request, prefix
):
    env = {"DATABASE_URL": database_url}
    if layer == "redis":
        env |= {"REDIS_URL": request.getfixturevalue("redis_url"), "CHANNEL_LAYER_PREFIX": prefix}
    server = start_server(env=env)
    heard = await burst(server, "busy")
    # Every socket heard every message once, in the order they were stored, and the database
    # holds exactly what was broadcast.
    stored = stored_on_server(database_url, "busy")
    assert len(stored) == SOCKETS * BURST
    assert all(frames == stored for frames in heard)

    # A new server process on the same database: a new socket gets the last 50.
    server.restart()
    ws, first = await ws_join(server, "busy")
    history = [(frame["id"], frame["message"]) for frame in first["history"]]
    assert history == stored[-HISTORY_LENGTH:]
    await ws.close()


SHELL_SAVE = (
    "from chat.models import Message, Room; "
    "room, _ = Room.objects.get_or_create(name='lobby'); "
    "print(Message.objects.create(room=room, text={text!r}).pk)"
)


async def test_a_save_in_another_process_reaches_the_room_through_redis(
    start_server, tmp_path, redis_url, prefix
):
    database = f"sqlite:///{tmp_path / 'gs5.sqlite3'}"
    shared = {"REDIS_URL": redis_url, "CHANNEL_LAYER_PREFIX": prefix}
    server = start_server(env={"DATABASE_URL": database, **shared})
    ws, _ = await ws_join(server, "lobby")
    # Without REDIS_URL, the shell's in-memory layer is its own: the row is saved, and the
    # open socket never hears of it.
    alone = manage_py_shell(SHELL_SAVE.format(text="unheard"), {"DATABASE_URL": database})
    assert await nothing_more(ws)
    # With the server's REDIS_URL, the same save reaches the room live.
    heard = manage_py_shell(SHELL_SAVE.format(text="heard"), {"DATABASE_URL": database, **shared})
    frame = await recv_json(ws)
    assert (frame["id"], frame["message"]) == (int(heard), "heard")
    assert stored_on_server(database, "lobby") == [(int(alone), "unheard"), (int(heard), "heard")]
    await ws.close()


# The official tutorial's browser steps, and what storage adds to them.


def enter_chat_room(browser, server, room_name):
    browser.get(server.url + "/chat/")
    ActionChains(browser).send_keys(room_name, Keys.ENTER).perform()
    WebDriverWait(browser, 5).until(lambda _: room_name in browser.current_url)


def chat_log(browser):
    return browser.find_element(By.ID, "chat-log").get_property("value")


def test_the_room_page_shows_the_history_once_and_as_text(start_server, tmp_path, browser):
    database = f"sqlite:///{tmp_path / 'browser.sqlite3'}"
    server = start_server(env={"DATABASE_URL": database})
    markup = '<img src=x onerror="document.title=\'pwned\'"><b>bold?</b>'
    wait = WebDriverWait(browser, 5)
    enter_chat_room(browser, server, "room_1")
    wait.until(lambda _: browser.find_element(By.ID, "chat-state").text == "open")
    for text in (markup, "second"):
        ActionChains(browser).send_keys(text, Keys.ENTER).perform()
    wait.until(lambda _: "second" in chat_log(browser))
    # A new visitor (a reload) gets both from the history: once each, in order, as text.
    browser.refresh()
    wait.until(lambda _: "second" in chat_log(browser))
    log = chat_log(browser)
    assert log.count(markup) == 1 and log.count("second") == 1
    assert log.index(markup) < log.index("second")
    assert browser.find_elements(By.CSS_SELECTOR, "img, b") == []
    assert browser.title != "pwned"
    # A message saved while the page was joining arrives twice, in the history and live: the
    # page shows it once, by its id. Replay the last live frame to the page's handler.
    browser.execute_script(
        "chatSocket.onmessage({data: JSON.stringify("
        "{message: 'second', created: new Date().toISOString(), id: arguments[0]})})",
        stored_on_server(database, "room_1")[-1][0],
    )
    assert chat_log(browser) == log
