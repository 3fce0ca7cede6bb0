"""The lesson as a learner runs it (`make gs4`): Daphne's runserver, the in-memory layer, real
websocket clients and a headless Chromium; once uvicorn, as `make gs4-workers` runs it."""

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


def test_landing_page_says_what_the_lesson_is_and_links_the_chat(lesson_server):
    status, page = get(lesson_server, "/")
    assert status == 200
    assert "Channel layers" in page and 'href="/chat/"' in page
    assert '<code id="layer">InMemoryChannelLayer</code>' in page


def test_index_and_room_pages_keep_the_tutorials_element_ids(lesson_server):
    status, index = get(lesson_server, "/chat/")
    assert status == 200
    assert 'id="room-name-input"' in index and 'id="room-name-submit"' in index
    status, room = get(lesson_server, "/chat/room_1/")
    assert status == 200
    for element in ("chat-log", "chat-message-input", "chat-message-submit"):
        assert f'id="{element}"' in room
    assert '<script id="room-name" type="application/json">"room_1"</script>' in room


@pytest.mark.parametrize("path", ["/chat/two%20words/", "/chat/a.b/", "/chat/" + "x" * 51 + "/"])
def test_a_room_page_with_an_invalid_name_is_not_found(lesson_server, path):
    with pytest.raises(urllib.error.HTTPError) as error:
        get(lesson_server, path)
    assert error.value.code == 404


async def test_rooms_broadcast_and_direct_messages_over_real_sockets(lesson_server):
    alice, _ = await ws_join(lesson_server, "room_a")
    bob, bob_name = await ws_join(lesson_server, "room_a")
    carol, carol_name = await ws_join(lesson_server, "room_b")
    assert len({bob_name, carol_name}) == 2
    await alice.send(json.dumps({"message": "<b>hello</b> room a"}))
    assert await recv_json(alice) == {"message": "<b>hello</b> room a"}
    assert await recv_json(bob) == {"message": "<b>hello</b> room a"}
    assert await nothing_more(carol)
    await alice.send(json.dumps({"message": "psst", "to": carol_name}))
    assert await recv_json(carol) == {"message": "psst", "private": True}
    assert await nothing_more(alice) and await nothing_more(bob)
    for ws in (alice, bob, carol):
        await ws.close()


@hostile("bad frames over a real socket: not JSON, empty, `[]`, a bad `message` or `to`, a frame "
         "of 64 KiB, binary",
         "`{\"error\": ...}` for each, to the sender only; the socket stays open")
async def test_bad_frames_get_errors_over_a_real_socket(lesson_server):
    alice, _ = await ws_join(lesson_server)
    bob, _ = await ws_join(lesson_server)
    for frame in ["nope", "", "[]", '{"message": "   "}', '{"message": "x", "to": 7}',
                  json.dumps({"message": "x" * 1001}), json.dumps({"message": "x" * 65536}),
                  b"\x00binary", b""]:
        await alice.send(frame)
        assert "error" in await recv_json(alice), frame
    assert await nothing_more(bob)
    await alice.send(json.dumps({"message": "fine"}))
    assert await recv_json(bob) == {"message": "fine"}
    await alice.close()
    await bob.close()


@hostile("a frame of 1 MiB", "Daphne drops the connection (no close frame: the client sees 1006); "
         "the others are not disturbed and a new connection works")
async def test_a_frame_of_a_mebibyte_is_never_processed(lesson_server):
    alice, _ = await ws_join(lesson_server)
    bob, _ = await ws_join(lesson_server)
    # One byte under the limit reaches the consumer, which answers as for any bad frame.
    await alice.send("x" * (1024 * 1024 - 1))
    assert "error" in await recv_json(alice)
    # Over Daphne's limit (DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE in settings.py): the frame never
    # reaches the consumer. Autobahn, under Daphne, drops the TCP connection without a close
    # frame (failByDrop), maybe while the frame is still being sent: the client sees 1006.
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await alice.send(json.dumps({"message": "x" * (1024 * 1024)}))
        await recv_json(alice)
    assert closed.value.rcvd is None
    # Nobody else is disturbed, and new connections work.
    assert await nothing_more(bob)
    carol, _ = await ws_join(lesson_server)
    await carol.send(json.dumps({"message": "after the big one"}))
    assert await recv_json(bob) == {"message": "after the big one"}
    await bob.close()
    await carol.close()


@hostile("a frame of 1 MiB to uvicorn (`make gs4-workers`: `--ws-max-size 1048575`)",
         "uvicorn drops the connection (1009); the other sockets are served")
async def test_uvicorn_drops_a_frame_of_a_mebibyte(start_server):
    # uvicorn as `make gs4-workers` runs it, with one process: the in-memory layer will do.
    server = start_server(workers=1, migrate=False)
    big, _ = await ws_join(server, "big")
    other, _ = await ws_join(server, "big")
    await big.send("x" * (1024 * 1024 - 1))  # one byte under: the consumer's own error
    assert "error" in await recv_json(big)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        # The server may drop the connection while the frame is still being sent.
        await big.send("x" * (1024 * 1024))
        await recv_json(big)
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
    await other.send(json.dumps({"message": "still served"}))
    assert await recv_json(other) == {"message": "still served"}
    await other.close()


INVALID_PATHS = {
    "a space": "/ws/chat/two%20words/",
    "a dot": "/ws/chat/a.b/",
    "unicode": "/ws/chat/%C3%BCn%C3%AF/",
    "51 characters": "/ws/chat/" + "x" * 51 + "/",
    "no room": "/ws/chat/",
    "an empty room": "/ws/chat//",
    "dot dot": "/ws/chat/../chat/lobby/",
    "encoded dot dot": "/ws/chat/%2e%2e/",
    "an encoded slash": "/ws/chat/a%2Fb/",
    "an extra segment": "/ws/chat/lobby/extra/",
    "no trailing slash": "/ws/chat/lobby",
    "an encoded null": "/ws/chat/lobby%00/",
}


@hostile("a room path with a space, a dot, unicode, 51 characters, no room, `..`, `%2e%2e`, an "
         "encoded slash, an extra segment, no trailing slash, an encoded null",
         "refused at the handshake (an HTTP error, within 3 seconds); the server goes on")
async def test_invalid_room_names_are_refused_at_the_handshake(lesson_server):
    # All at once: Daphne notices a path with no route on its next check, up to a second later.
    statuses = await asyncio.gather(
        *(handshake_status(lesson_server, path) for path in INVALID_PATHS.values())
    )
    refused = dict(zip(INVALID_PATHS, statuses, strict=True))
    assert all(status >= 400 for status in refused.values()), refused
    # The server survives it: the next connection works.
    ws, _ = await ws_join(lesson_server)
    await ws.close()


async def handshake_status(server, path):
    """The HTTP status that answers a handshake to `path` (101 if it opened), within 3 s."""
    try:
        async with asyncio.timeout(3):
            ws = await websockets.connect(server.ws(path), origin=server.origin)
    except websockets.InvalidStatus as refused:
        return refused.response.status_code
    await ws.close()
    return 101


@pytest.mark.parametrize("origin", ["http://127.0.0.1:{port}", "http://localhost:{port}"])
async def test_the_development_origins_are_accepted(lesson_server, origin):
    ws, _ = await ws_join(lesson_server, origin=origin.format(port=lesson_server.port))
    await ws.close()


@hostile("a handshake from a foreign, a look-alike or no origin: `http://evil.example`, "
         "`http://127.0.0.1.evil.test`, `http://localhost.evil.test:PORT`, none",
         "refused at the handshake (403)")
@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "https://127.0.0.1.evil.example", "http://127.0.0.1.evil.test",
     "http://localhost.evil.test:{port}", None],
)
async def test_foreign_origins_are_refused_at_the_handshake(lesson_server, origin):
    origin = origin and origin.format(port=lesson_server.port)
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with asyncio.timeout(3):
            await websockets.connect(lesson_server.ws("/ws/chat/lobby/"), origin=origin)
    assert refused.value.response.status_code == 403


# The official tutorial's part 4 test, as it is written there, against this lesson's pages.


async def test_a_busy_room_loses_nothing_over_real_sockets(lesson_server):
    # The full size gs4/settings.py is sized for (20 x 50) runs in-process in test_consumers.py;
    # here the same kind of burst goes through Daphne and real sockets.
    await burst(lesson_server, "busy", sockets=10, messages=20)


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


def test_browser_shows_html_as_text_and_sends_private_messages(lesson_server, browser):
    markup = '<img src=x onerror="document.title=\'pwned\'"><b>bold?</b>'
    enter_chat_room(browser, lesson_server, "room_3")
    wait = WebDriverWait(browser, 5)
    wait.until(lambda _: browser.find_element(By.ID, "channel-name").text.startswith("specific"))
    own_channel = browser.find_element(By.ID, "channel-name").text
    post_message(browser, markup)
    # The textarea holds the markup as typed; nothing was parsed into the page.
    wait.until(lambda _: markup in chat_log(browser))
    assert browser.find_elements(By.CSS_SELECTOR, "img, b") == []
    assert browser.title != "pwned"
    # A private message to this window's own channel name comes back marked private.
    browser.find_element(By.ID, "chat-message-to").send_keys(own_channel)
    browser.find_element(By.ID, "chat-message-input").send_keys("just me", Keys.ENTER)
    wait.until(lambda _: "[private] just me" in chat_log(browser))


def test_a_closed_page_says_so_and_keeps_what_was_typed(start_server, browser):
    server = start_server(migrate=False)
    enter_chat_room(browser, server, "closing")
    WebDriverWait(browser, 10).until(
        lambda b: b.find_element(By.ID, "chat-state").text == "open")
    server.stop()
    WebDriverWait(browser, 10).until(
        lambda b: b.find_element(By.ID, "chat-state").text.startswith("closed"))
    post_message(browser, "typed after the server stopped")
    # Not sent, not thrown away: the text is still in the input, and the page says why.
    assert browser.find_element(By.ID, "chat-message-input").get_attribute(
        "value") == "typed after the server stopped"
    WebDriverWait(browser, 10).until(lambda b: "[not sent: the socket is closed]" in chat_log(b))
