"""The lesson as a learner runs it (`make gs4`): Daphne's runserver, the in-memory layer, real
websocket clients and a headless Chromium; once uvicorn, as `make gs4-workers` runs it."""

import asyncio
import json
import urllib.error
import urllib.request

import pytest
import websockets
from chat_clients import nothing_more, recv_json, ws_join
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from chat.flood import FLOOD_CLOSE_CODE, FLOOD_ERROR

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


@hostile("a frame of 1 MiB", "the server drops the connection (1009); the others are not "
         "disturbed and a new connection works")
async def test_a_frame_of_a_mebibyte_is_never_processed(lesson_server):
    alice, _ = await ws_join(lesson_server)
    bob, _ = await ws_join(lesson_server)
    # One byte under the limit reaches the consumer, which refuses it before parsing it.
    await alice.send("x" * (1024 * 1024 - 1))
    assert "at most" in (await recv_json(alice))["error"]
    # Over Daphne's limit (DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE in settings.py): the frame never
    # reaches the consumer, and Daphne drops the connection with 1009 (message too big), maybe
    # while the frame is still being sent.
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await alice.send(json.dumps({"message": "x" * (1024 * 1024)}))
        await recv_json(alice)
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
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
    assert "at most" in (await recv_json(big))["error"]
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


@hostile("a flood: one socket sends 300 messages as fast as it can",
         "the first ones (a burst of 30) reach the room, the rest get `{\"error\": ...}`, then "
         "the server closes the socket with 4029; the others are served throughout")
async def test_a_flood_is_cut_off_and_everyone_else_is_served(lesson_server):
    flooder, _ = await ws_join(lesson_server, "flood")
    listener, _ = await ws_join(lesson_server, "flood")
    elsewhere, _ = await ws_join(lesson_server, "calm")
    for n in range(300):
        await flooder.send(json.dumps({"message": f"flood {n}"}))
    frames = []
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            frames.append(await recv_json(flooder))
    assert closed.value.rcvd.code == FLOOD_CLOSE_CODE
    sent = [frame["message"] for frame in frames if "message" in frame]
    refused = [frame for frame in frames if "message" not in frame]
    # At least the burst got through, in order; the flooder was told about the others.
    assert sent[:30] == [f"flood {n}" for n in range(30)]
    assert sent == sorted(sent, key=lambda text: int(text.split()[1]))
    assert refused and all(frame == {"error": FLOOD_ERROR} for frame in refused)
    # The room heard exactly what was sent, and other rooms nothing.
    assert [(await recv_json(listener))["message"] for _ in sent] == sent
    assert await nothing_more(listener) and await nothing_more(elsewhere)
    # Everyone else is still served.
    await elsewhere.send(json.dumps({"message": "calm here"}))
    assert await recv_json(elsewhere) == {"message": "calm here"}
    await listener.send(json.dumps({"message": "still here"}))
    assert await recv_json(listener) == {"message": "still here"}
    await listener.close()
    await elsewhere.close()


@hostile("sockets whose connections are cut (no close frame) in the middle of a broadcast",
         "everyone else gets every message, in order")
async def test_sockets_cut_off_mid_broadcast_disturb_no_one(lesson_server):
    sender, _ = await ws_join(lesson_server, "cut")
    stayers = [(await ws_join(lesson_server, "cut"))[0] for _ in range(3)]
    leavers = [(await ws_join(lesson_server, "cut"))[0] for _ in range(5)]

    async def broadcast():
        for n in range(25):
            await sender.send(json.dumps({"message": f"message {n}"}))
            await asyncio.sleep(0.005)

    async def cut():
        for ws in leavers:
            await asyncio.sleep(0.01)
            ws.transport.abort()  # the TCP connection ends at once, as when a laptop sleeps

    await asyncio.gather(broadcast(), cut())
    expected = [f"message {n}" for n in range(25)]
    for ws in (sender, *stayers):
        assert [(await recv_json(ws))["message"] for _ in expected] == expected
        await ws.close()


@hostile("a socket that stops reading while its room gets 200 messages (a channel holds 100)",
         "everyone else gets every message, in order; the slow one gets them all when it reads")
async def test_a_socket_that_stops_reading_stalls_no_one(lesson_server):
    # max_queue=1: the client library stops reading from the network after one unread frame,
    # so the server's writes pile up (in the kernel, then in Daphne) instead of being taken.
    slow = await websockets.connect(lesson_server.ws("/ws/chat/slow/"),
                                    origin=lesson_server.origin, max_queue=1)
    senders = [(await ws_join(lesson_server, "slow"))[0] for _ in range(8)]
    # 3 bytes a character: 200 messages of 1000 are 600 kB, more than the network buffers hold.
    text = "€" * 990
    expected = []
    for n in range(25):
        # A round: each sender speaks once, and every sender hears the round before the next.
        for s, ws in enumerate(senders):
            await ws.send(json.dumps({"message": f"{s}:{n}:{text}"}))
            expected.append(f"{s}:{n}:{text}")
        for ws in senders:
            heard = [(await recv_json(ws))["message"] for _ in senders]
            assert sorted(heard) == sorted(expected[-len(senders):])
    # Still not reading, and nobody waited for it. Now it reads: nothing was lost.
    assert "channel_name" in await recv_json(slow)
    heard = [(await recv_json(slow))["message"] for _ in expected]
    assert sorted(heard) == sorted(expected)
    for s in range(8):
        assert [m for m in heard if m.startswith(f"{s}:")] == [
            m for m in expected if m.startswith(f"{s}:")
        ]
    for ws in (slow, *senders):
        await ws.close()


# The official tutorial's part 4 test, as it is written there, against this lesson's pages.


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
