"""The lesson as a learner runs it: real servers, real websocket clients, a headless Chromium.

Tests that only look use the shared `lesson_server`. Tests that write get a server of their
own with a DATABASE_URL of their own (`database_url`: a SQLite file in tmp_path, or a new
PostgreSQL database), so no test leaves rows in the learner's db.sqlite3.
"""

import asyncio
import json
import sqlite3
import urllib.error
import urllib.request

import pytest
import websockets
from chat_clients import nothing_more, recv_json, stored_on_server, ws_join
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

WRITERS, MESSAGES = 10, 20
hostile = pytest.mark.hostile


def get(server, path):
    with urllib.request.urlopen(server.url + path, timeout=10) as response:
        return response.status, response.read().decode()


async def send_and_wait(ws, text):
    """Send a message and wait for the room's copy of it: the server's acknowledgement."""
    await ws.send(json.dumps({"message": text}))
    heard = []
    while not heard or heard[-1]["message"] != text:
        heard.append(await recv_json(ws))
    return heard


def test_landing_page_says_what_the_lesson_is_and_which_database_runs(lesson_server):
    status, page = get(lesson_server, "/")
    assert status == 200
    assert "database_sync_to_async" in page and 'href="/chat/"' in page
    assert '<code id="database">sqlite</code>' in page


def test_index_and_room_pages_keep_the_tutorials_element_ids(lesson_server):
    status, index = get(lesson_server, "/chat/")
    assert status == 200
    assert 'id="room-name-input"' in index and 'id="room-name-submit"' in index
    status, room = get(lesson_server, "/chat/room_1/")
    assert status == 200
    for element in ("chat-log", "chat-message-input", "chat-message-submit"):
        assert f'id="{element}"' in room


@hostile("a room path with a space, a dot, unicode, `..`, `%2e%2e`, an encoded slash, no "
         "trailing slash", "refused at the handshake (an HTTP error, within 3 seconds)")
async def test_invalid_room_names_are_refused_at_the_handshake(lesson_server):
    paths = ["/ws/chat/two%20words/", "/ws/chat/a.b/", "/ws/chat/%C3%BCn%C3%AF/",
             "/ws/chat/../chat/lobby/", "/ws/chat/%2e%2e/", "/ws/chat/a%2Fb/", "/ws/chat/lobby"]
    # All at once: Daphne notices a path with no route on its next check, up to a second later.
    statuses = await asyncio.gather(*(handshake_status(lesson_server, path) for path in paths))
    refused = dict(zip(paths, statuses, strict=True))
    assert all(status >= 400 for status in refused.values()), refused


async def handshake_status(server, path):
    """The HTTP status that answers a handshake to `path` (101 if it opened), within 3 s."""
    try:
        async with asyncio.timeout(3):
            ws = await websockets.connect(server.ws(path), origin=server.origin)
    except websockets.InvalidStatus as refused:
        return refused.response.status_code
    await ws.close()
    return 101


@hostile("a handshake from a foreign, a look-alike or no origin: `http://evil.example`, "
         "`http://127.0.0.1.evil.test`, `http://localhost.evil.test:PORT`, none",
         "refused at the handshake (403)")
@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "http://127.0.0.1.evil.test", "http://localhost.evil.test:{port}",
     None],
)
async def test_foreign_origins_are_refused_at_the_handshake(lesson_server, origin):
    origin = origin and origin.format(port=lesson_server.port)
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with asyncio.timeout(3):
            await websockets.connect(lesson_server.ws("/ws/chat/lobby/"), origin=origin)
    assert refused.value.response.status_code == 403


@hostile("a frame of 64 KiB over a real socket: valid JSON, its message far too long",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
async def test_a_frame_of_64_kib_gets_an_error_and_nothing_is_stored(lesson_server):
    alice, _ = await ws_join(lesson_server, "frames_of_64_kib")
    await alice.send(json.dumps({"message": "x" * (64 * 1024)}))
    assert "at most" in (await recv_json(alice))["error"]
    bob, first = await ws_join(lesson_server, "frames_of_64_kib")
    assert first["history"] == []
    for ws in (alice, bob):
        await ws.close()


@hostile("a frame of 1 MiB", "the server drops the connection (1009); nothing is stored, and a "
         "new connection works")
async def test_a_frame_of_a_mebibyte_is_never_processed(lesson_server):
    alice, _ = await ws_join(lesson_server, "big_frames")
    # Daphne drops a frame over its limit (DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE, settings.py)
    # with the connection (close code 1009), maybe while the frame is still being sent.
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await alice.send(json.dumps({"message": "x" * (1024 * 1024)}))
        await recv_json(alice)
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
    # Nothing was stored, and new connections work.
    bob, first = await ws_join(lesson_server, "big_frames")
    assert first["history"] == []
    await bob.close()


async def test_concurrent_writers_lose_nothing_and_a_restart_keeps_it_all(
    database_url, start_server
):
    server = start_server(env={"DATABASE_URL": database_url})
    sockets = [(await ws_join(server, "busy"))[0] for _ in range(WRITERS)]
    sent = {f"socket {s} message {n}" for s in range(WRITERS) for n in range(MESSAGES)}

    async def write(s, ws):
        heard = []
        for n in range(MESSAGES):
            heard += await send_and_wait(ws, f"socket {s} message {n}")
        while len(heard) < len(sent):
            heard.append(await recv_json(ws))
        return [frame["message"] for frame in heard]

    # Every socket hears all 200, each exactly once, and the database holds all 200.
    for heard in await asyncio.gather(*(write(s, ws) for s, ws in enumerate(sockets))):
        assert sorted(heard) == sorted(sent)
    # Refused frames are not stored.
    for frame in ["nope", '{"message": "   "}', json.dumps({"message": "x" * 1001}), b"\x00"]:
        await sockets[0].send(frame)
        assert "error" in await recv_json(sockets[0])
    for ws in sockets:
        await ws.close()
    stored = stored_on_server(database_url, "busy")
    assert sorted(stored) == sorted(sent)

    # A new process, the same database: a new socket gets the last 50, oldest first.
    server.restart()
    ws, first = await ws_join(server, "busy")
    assert [frame["message"] for frame in first["history"]] == stored[-50:]
    assert await nothing_more(ws)
    await ws.close()


async def test_worker_processes_share_the_database_without_locking_errors(
    database_url, start_server
):
    # Two uvicorn processes write at once: on SQLite, two processes fight for one write lock
    # (the settings make them wait for it). No REDIS_URL, so each worker has its own in-memory
    # layer: a writer still gets its own acknowledgements, which is all this test needs.
    server = start_server(env={"DATABASE_URL": database_url}, workers=2)
    sockets = [(await ws_join(server, "workers"))[0] for _ in range(WRITERS)]

    async def write(s, ws):
        for n in range(MESSAGES):
            heard = await send_and_wait(ws, f"socket {s} message {n}")
            assert not [frame for frame in heard if "error" in frame], heard

    await asyncio.gather(*(write(s, ws) for s, ws in enumerate(sockets)))
    sent = {f"socket {s} message {n}" for s in range(WRITERS) for n in range(MESSAGES)}
    assert sorted(stored_on_server(database_url, "workers")) == sorted(sent)
    for ws in sockets:
        await ws.close()


@hostile("another process holds SQLite's write lock while a message arrives",
         "the server waits for the lock, then saves and sends: no \"database is locked\"")
async def test_while_another_process_writes_to_sqlite_the_server_waits_instead_of_failing(
    start_server, tmp_path
):
    path = tmp_path / "gs5.sqlite3"
    database_url = f"sqlite:///{path}"
    server = start_server(env={"DATABASE_URL": database_url})
    alice, _ = await ws_join(server, "locks")
    await send_and_wait(alice, "before")
    # Another process (manage.py, the admin, a second worker) holds SQLite's one write lock.
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO chat_room (name) VALUES ('elsewhere')")
    await alice.send(json.dumps({"message": "during"}))
    # Saved before broadcast: while the server cannot write, the room hears nothing.
    assert await nothing_more(alice, timeout=1)
    other.execute("COMMIT")
    other.close()
    # Then the server's transaction gets the lock and goes on: no "database is locked".
    frame = await recv_json(alice)
    assert frame.get("message") == "during", frame
    await alice.close()
    assert stored_on_server(database_url, "locks") == ["before", "during"]


# The official tutorial's part 4 browser steps, and what storage adds to them.


@pytest.fixture
def stored_server(start_server, tmp_path):
    """This lesson's server on a SQLite file of the test's own."""
    return start_server(env={"DATABASE_URL": f"sqlite:///{tmp_path / 'browser.sqlite3'}"})


def enter_chat_room(browser, server, room_name):
    browser.get(server.url + "/chat/")
    ActionChains(browser).send_keys(room_name, Keys.ENTER).perform()
    WebDriverWait(browser, 5).until(lambda _: room_name in browser.current_url)


def open_new_window(browser):
    browser.execute_script('window.open("about:blank", "_blank");')
    browser.switch_to.window(browser.window_handles[-1])


def post_message(browser, message):
    ActionChains(browser).send_keys(message, Keys.ENTER).perform()


def chat_log(browser):
    return browser.find_element(By.CSS_SELECTOR, "#chat-log").get_property("value")


def test_browser_room_shares_messages_keeps_them_and_shows_them_as_text(stored_server, browser):
    markup = '<img src=x onerror="document.title=\'pwned\'"><b>bold?</b>'
    wait = WebDriverWait(browser, 5)
    enter_chat_room(browser, stored_server, "room_1")
    open_new_window(browser)
    enter_chat_room(browser, stored_server, "room_1")
    browser.switch_to.window(browser.window_handles[0])
    wait.until(lambda _: browser.find_element(By.ID, "chat-state").text == "open")
    post_message(browser, markup)
    post_message(browser, "second")
    wait.until(lambda _: "second" in chat_log(browser))
    browser.switch_to.window(browser.window_handles[1])
    wait.until(lambda _: "second" in chat_log(browser))
    # A new visitor (a reload) gets both from the history: once each, in order, as text.
    browser.refresh()
    wait.until(lambda _: "second" in chat_log(browser))
    log = chat_log(browser)
    assert log.count(markup) == 1 and log.index(markup) < log.index("second")
    assert browser.find_elements(By.CSS_SELECTOR, "img, b") == []
    assert browser.title != "pwned"
    # Another room has its own, empty history.
    enter_chat_room(browser, stored_server, "room_2")
    wait.until(lambda _: browser.find_element(By.ID, "chat-state").text == "open")
    assert "second" not in chat_log(browser)
