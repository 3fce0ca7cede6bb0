"""The lesson as a learner runs it (`make gs4`): Daphne's runserver, the in-memory layer, real
websocket clients and a headless Chromium."""

import asyncio
import json
import urllib.error
import urllib.request

import pytest
import websockets
from chat_clients import burst, nothing_more, recv_json, ws_join
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

hostile = pytest.mark.hostile


def get(server, path):
    with urllib.request.urlopen(server.url + path, timeout=10) as response:
        return response.status, response.read().decode()


def test_the_home_page_shows_commands_that_run_as_written(lesson_server):
    status, page = get(lesson_server, "/")
    assert status == 200
    assert 'href="/chat/"' in page and '<code id="layer">InMemoryChannelLayer</code>' in page
    for command in ("make gs4", "REDIS_URL=redis://127.0.0.1:6379/0 make gs4-workers",
                    '../.venv/bin/python manage.py notify "hi"'):
        assert f"<code>{command}</code>" in page


def test_the_pages_keep_the_tutorials_element_ids(lesson_server):
    status, index = get(lesson_server, "/chat/")
    assert status == 200
    assert 'id="room-name-input"' in index and 'id="room-name-submit"' in index
    status, room = get(lesson_server, "/chat/room_1/")
    assert status == 200
    for element in ("chat-log", "chat-message-input", "chat-message-submit"):
        assert f'id="{element}"' in room


BAD_ROOMS = {"51 characters": "x" * 51, "a dot": "a.b", "a space": "two%20words",
             "a newline": "room%0A", "unicode": "%C3%BCn%C3%AF"}


@pytest.mark.parametrize("room", BAD_ROOMS.values(), ids=BAD_ROOMS.keys())
def test_a_room_page_with_a_bad_name_is_not_found(lesson_server, room):
    with pytest.raises(urllib.error.HTTPError) as error:
        get(lesson_server, f"/chat/{room}/")
    assert error.value.code == 404


async def handshake_status(server, path, origin=None):
    """The HTTP status that answers a handshake (101 if it opened), within 3 seconds."""
    try:
        async with asyncio.timeout(3):
            ws = await websockets.connect(server.ws(path), origin=origin or server.origin)
    except websockets.InvalidStatus as refused:
        return refused.response.status_code
    await ws.close()
    return 101


@hostile("a room name of 51 characters, with a dot, a space, a newline, unicode",
         "no route: refused at the handshake (an HTTP error, within 3 seconds)")
async def test_a_socket_to_a_bad_room_name_is_refused_at_the_handshake(lesson_server):
    statuses = await asyncio.gather(
        *(handshake_status(lesson_server, f"/ws/chat/{room}/") for room in BAD_ROOMS.values())
    )
    refused = dict(zip(BAD_ROOMS, statuses, strict=True))
    assert all(status >= 400 for status in refused.values()), refused
    assert await handshake_status(lesson_server, "/ws/chat/" + "x" * 50 + "/") == 101


@hostile("a handshake from another site's page (`Origin: http://evil.example`)",
         "refused at the handshake (403)")
async def test_a_foreign_origin_is_refused_at_the_handshake(lesson_server):
    assert await handshake_status(lesson_server, "/ws/chat/lobby/", "http://evil.example") == 403
    localhost = f"http://localhost:{lesson_server.port}"
    assert await handshake_status(lesson_server, "/ws/chat/lobby/", localhost) == 101


async def test_rooms_and_direct_messages_over_real_sockets(lesson_server):
    alice, _ = await ws_join(lesson_server, "room_a")
    bob, _ = await ws_join(lesson_server, "room_a")
    carol, carol_name = await ws_join(lesson_server, "room_b")
    await alice.send(json.dumps({"message": "hello room a"}))
    assert await recv_json(alice) == {"message": "hello room a"}
    assert await recv_json(bob) == {"message": "hello room a"}
    assert await nothing_more(carol)
    await alice.send(json.dumps({"message": "psst", "to": carol_name}))
    assert await recv_json(carol) == {"message": "psst", "private": True}
    assert await nothing_more(alice) and await nothing_more(bob)
    # Bad frames get an error, to the sender only, and the socket stays open.
    for frame in ["nope", b"\x00binary", json.dumps({"message": "x" * 1001})]:
        await alice.send(frame)
        assert "error" in await recv_json(alice)
    assert await nothing_more(bob)
    for ws in (alice, bob, carol):
        await ws.close()


@hostile("a frame of 1 MiB", "Daphne drops the connection (no close frame: the client sees 1006); "
         "the others are not disturbed and a new connection works")
async def test_a_frame_of_a_mebibyte_is_never_processed(lesson_server):
    alice, _ = await ws_join(lesson_server)
    bob, _ = await ws_join(lesson_server)
    # Over DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE (settings.py): the frame never reaches the consumer.
    # Autobahn, under Daphne, drops the TCP connection without a close frame (failByDrop),
    # maybe while the frame is still being sent: the client sees 1006.
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await alice.send(json.dumps({"message": "x" * (1024 * 1024)}))
        await recv_json(alice)
    assert closed.value.rcvd is None
    assert await nothing_more(bob)
    carol, _ = await ws_join(lesson_server)
    await carol.send(json.dumps({"message": "after the big one"}))
    assert await recv_json(bob) == {"message": "after the big one"}
    await bob.close()
    await carol.close()


async def test_a_busy_room_loses_nothing_over_real_sockets(lesson_server):
    # Real sockets through Daphne, every one sending its burst at once. (The full size the
    # settings are sized for, 20 x 50, runs in-process in test_consumers.py.)
    await burst(lesson_server, "busy", sockets=10, messages=20)


# The official tutorial's part 4 test, step for step, against this lesson's pages.


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


def test_browser_message_is_seen_by_everyone_in_the_same_room(lesson_server, browser):
    enter_chat_room(browser, lesson_server, "room_1")
    open_new_window(browser)
    enter_chat_room(browser, lesson_server, "room_1")
    browser.switch_to.window(browser.window_handles[0])
    post_message(browser, "hello")
    WebDriverWait(browser, 5).until(lambda _: "hello" in chat_log(browser))
    browser.switch_to.window(browser.window_handles[1])
    WebDriverWait(browser, 5).until(lambda _: "hello" in chat_log(browser))


def test_browser_message_is_not_seen_in_a_different_room(lesson_server, browser):
    enter_chat_room(browser, lesson_server, "room_1")
    open_new_window(browser)
    enter_chat_room(browser, lesson_server, "room_2")
    browser.switch_to.window(browser.window_handles[0])
    post_message(browser, "hello")
    WebDriverWait(browser, 5).until(lambda _: "hello" in chat_log(browser))
    browser.switch_to.window(browser.window_handles[1])
    post_message(browser, "world")
    WebDriverWait(browser, 5).until(lambda _: "world" in chat_log(browser))
    assert "hello" not in chat_log(browser)


def wait_until_open(browser):
    WebDriverWait(browser, 10).until(
        lambda b: b.find_element(By.ID, "chat-state").text == "open")


async def test_the_page_shows_text_as_text_and_scrolls_to_the_newest_line(lesson_server,
                                                                          browser):
    enter_chat_room(browser, lesson_server, "room_3")
    wait_until_open(browser)
    # Another client talks: the page shows its markup as characters, never as HTML.
    ws, _ = await ws_join(lesson_server, "room_3")
    markup = '<img src=x onerror="document.title=\'pwned\'"><b>bold?</b>'
    for n in range(40):
        await ws.send(json.dumps({"message": f"line {n}"}))
    await ws.send(json.dumps({"message": markup}))
    WebDriverWait(browser, 10).until(lambda _: markup in chat_log(browser))
    assert browser.find_elements(By.CSS_SELECTOR, "img, b") == []
    assert browser.title != "pwned"
    # 41 lines do not fit in the log's 20 rows: it has scrolled to the newest.
    assert browser.execute_script(
        "const log = document.querySelector('#chat-log');"
        "return log.scrollHeight > log.clientHeight"
        " && log.scrollTop + log.clientHeight >= log.scrollHeight - 2;")
    # Read the client's own 41 echoes: a client with unread frames closes only after a timeout.
    for _ in range(41):
        await recv_json(ws)
    await ws.close()


@hostile("the server stops under an open page", "the page says its socket is closed, and keeps "
         "what was typed instead of clearing it")
def test_a_closed_page_says_so_and_keeps_what_was_typed(start_server, browser):
    server = start_server(migrate=False)
    enter_chat_room(browser, server, "closing")
    wait_until_open(browser)
    server.stop()
    WebDriverWait(browser, 10).until(
        lambda b: b.find_element(By.ID, "chat-state").text.startswith("closed"))
    post_message(browser, "typed after the server stopped")
    # Not sent, not thrown away: the text is still in the input, and the log says why.
    WebDriverWait(browser, 5).until(lambda b: "[not sent:" in chat_log(b))
    assert browser.find_element(By.ID, "chat-message-input").get_property(
        "value") == "typed after the server stopped"
