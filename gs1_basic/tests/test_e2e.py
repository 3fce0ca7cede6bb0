"""The lesson as a learner runs it: Daphne's runserver in its own process, real clients."""

import asyncio
import http.client
import urllib.request

import pytest
import websockets
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ENDPOINTS = ["/ws/sc/", "/ws/ac/"]
KiB, MiB = 1024, 1024 * 1024


def test_landing_page_links_both_endpoints(lesson_server):
    with urllib.request.urlopen(lesson_server.url + "/") as response:
        page = response.read().decode()
    assert response.status == 200
    assert "SyncConsumer" in page and "AsyncConsumer" in page
    assert 'data-path="/ws/sc/"' in page and 'data-path="/ws/ac/"' in page


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_real_client_gets_each_frame_back_in_order(lesson_server, path):
    async with websockets.connect(lesson_server.ws(path)) as ws:
        for n in range(20):
            await ws.send(f"frame {n}")
        assert [await ws.recv() for _ in range(20)] == [f"frame {n}" for n in range(20)]
        await ws.send(b"\x01\x02")
        assert await ws.recv() == b"\x01\x02"


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_many_sockets_at_once_each_get_only_their_own_frames(lesson_server, path):
    async def talk(n):
        async with websockets.connect(lesson_server.ws(path)) as ws:
            await ws.send(f"socket {n}")
            return await ws.recv()

    assert await asyncio.gather(*(talk(n) for n in range(20))) == [f"socket {n}" for n in range(20)]


@pytest.mark.hostile("an empty text frame, over a real socket",
                     "nothing comes back (Daphne never sends an empty frame); the next frame "
                     "is echoed")
@pytest.mark.parametrize("path", ENDPOINTS)
async def test_daphne_never_sends_an_empty_text_frame(lesson_server, path):
    # The consumer echoes "" (see test_consumers.py), but Daphne skips empty replies.
    async with websockets.connect(lesson_server.ws(path)) as ws:
        await ws.send("")
        await ws.send("after the empty one")
        assert await ws.recv() == "after the empty one"


@pytest.mark.hostile("frames of 64 KiB and of 1 MiB - 1 byte", "echoed whole: under the limit")
@pytest.mark.parametrize("path", ENDPOINTS)
async def test_big_frames_under_the_limit_are_echoed_whole(lesson_server, path):
    async with websockets.connect(lesson_server.ws(path), max_size=None) as ws:
        for size in (64 * KiB, MiB - 1):
            await ws.send("x" * size)
            assert len(await ws.recv()) == size


OVER_THE_LIMIT = [
    pytest.param(
        "x" * MiB, id="1-MiB",
        marks=pytest.mark.hostile("a frame of exactly 1 MiB",
                                  "Daphne drops the connection (`DAPHNE_WEBSOCKET_MAX_FRAME_SIZE`"
                                  " and `_MESSAGE_SIZE`); the consumer never sees it"),
    ),
    pytest.param(
        "x" * (4 * MiB), id="4-MiB",
        marks=pytest.mark.hostile("a frame of 4 MiB", "Daphne drops the connection"),
    ),
    pytest.param(
        ["x" * (64 * KiB)] * 32, id="2-MiB-in-fragments",
        marks=pytest.mark.hostile("a message of 2 MiB sent as 32 fragments of 64 KiB, each "
                                  "frame under the limit",
                                  "Daphne drops the connection: the limit is on the whole "
                                  "message (`DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE`)"),
    ),
    pytest.param(
        b"\xff\xfe not UTF-8", id="invalid-utf-8",
        marks=pytest.mark.hostile("a text frame that is not valid UTF-8",
                                  "Daphne drops the connection (the protocol requires UTF-8 "
                                  "text); the consumer never sees it"),
    ),
]


@pytest.mark.parametrize("message", OVER_THE_LIMIT)
async def test_a_message_the_server_refuses_drops_the_connection(lesson_server, message):
    async with websockets.connect(lesson_server.ws("/ws/sc/"), max_size=None) as ws:
        # Dropped without a close frame (or, by some servers, closed with 1009 or 1007),
        # maybe before the client has even finished sending.
        with pytest.raises(websockets.ConnectionClosedError) as closed:
            # text=True sends bytes as a text frame: only a misbehaving client does that.
            await ws.send(message, text=True)
            await ws.recv()
    assert closed.value.rcvd is None or closed.value.rcvd.code in (1007, 1009)
    async with websockets.connect(lesson_server.ws("/ws/sc/")) as ws:
        await ws.send("a new connection works")
        assert await ws.recv() == "a new connection works"


@pytest.mark.hostile("a flood: 1000 frames from one socket, sent without reading the echoes",
                     "another socket is served meanwhile; the flooding socket still gets every "
                     "echo, in order")
@pytest.mark.parametrize("path", ENDPOINTS)
async def test_a_flood_from_one_socket_does_not_stop_another(lesson_server, path):
    async with websockets.connect(lesson_server.ws(path)) as flood:
        for n in range(1000):
            await flood.send(f"flood {n}")
        async with websockets.connect(lesson_server.ws(path)) as other:
            await other.send("still served")
            assert await other.recv() == "still served"
        assert [await flood.recv() for _ in range(1000)] == [f"flood {n}" for n in range(1000)]


@pytest.mark.hostile("a handshake from a foreign `Origin` (`http://evil.example`), and one "
                     "with no `Origin`",
                     "both accepted: gs1 to gs3 check no origin (there is no cookie or user to "
                     "steal); from gs4 on, `AllowedHostsOriginValidator` refuses them")
@pytest.mark.parametrize("origin", ["http://evil.example", None])
async def test_any_origin_is_accepted_before_gs4(lesson_server, origin):
    async with websockets.connect(lesson_server.ws("/ws/sc/"), origin=origin) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"


@pytest.mark.hostile("a page request with a foreign `Host` header (`evil.example`)",
                     "400 Bad Request: the host is not in `ALLOWED_HOSTS`")
def test_a_foreign_host_header_gets_400(lesson_server):
    connection = http.client.HTTPConnection("127.0.0.1", lesson_server.port, timeout=10)
    connection.request("GET", "/", headers={"Host": "evil.example"})
    assert connection.getresponse().status == 400
    connection.close()


REFUSED = "refused at the handshake (HTTP 500 from the router), within 3 s; the server serves on"
NO_ROUTE = [
    pytest.param("/ws/nope/", id="unknown", marks=pytest.mark.hostile(
        "a handshake to a path no route matches, `/ws/nope/`", REFUSED)),
    pytest.param("/ws/sc", id="no-slash", marks=pytest.mark.hostile(
        "a path without its trailing slash, `/ws/sc`", REFUSED)),
    pytest.param("/ws/SC/", id="upper-case", marks=pytest.mark.hostile(
        "a path in other letter case, `/ws/SC/`", REFUSED)),
    pytest.param("/ws/sc/../ac/", id="dot-dot", marks=pytest.mark.hostile(
        "a path with `..`, `/ws/sc/../ac/` (never normalised to `/ws/ac/`)", REFUSED)),
    pytest.param("/ws/%2e%2e/ws/sc/", id="encoded-dot-dot", marks=pytest.mark.hostile(
        "a path with an encoded `..`, `/ws/%2e%2e/ws/sc/`", REFUSED)),
    pytest.param("//ws/sc/", id="double-slash", marks=pytest.mark.hostile(
        "a path with a doubled slash, `//ws/sc/`", REFUSED)),
    pytest.param("/ws/sc/%00", id="nul", marks=pytest.mark.hostile(
        "a path with an encoded NUL byte, `/ws/sc/%00`", REFUSED)),
]


@pytest.fixture(scope="module")
def handshakes(lesson_server):
    """{path: HTTP status} for every path of NO_ROUTE, tried all at once: Daphne answers a
    refused handshake about a second later (when it next checks its applications)."""

    async def status(path):
        try:
            async with asyncio.timeout(3):
                async with websockets.connect(lesson_server.ws(path)):
                    return 101
        except websockets.InvalidStatus as refused:
            return refused.response.status_code

    async def all_at_once():
        paths = [param.values[0] for param in NO_ROUTE]
        return dict(zip(paths, await asyncio.gather(*map(status, paths)), strict=True))

    return asyncio.run(all_at_once())


@pytest.mark.parametrize("path", NO_ROUTE)
async def test_unknown_path_is_refused_at_the_handshake(lesson_server, handshakes, path):
    assert handshakes[path] >= 400
    # The server survives it: the next connection works.
    async with websockets.connect(lesson_server.ws("/ws/sc/")) as ws:
        await ws.send("still here")
        assert await ws.recv() == "still here"


@pytest.mark.hostile("HTML (`<b>not bold</b>`) typed into the page and echoed, in Chromium",
                     "shown as typed in the log (a textarea's value), never rendered")
def test_browser_client_echoes_through_both_consumers(lesson_server, browser):
    browser.get(lesson_server.url + "/")
    for path in ENDPOINTS:
        panel = browser.find_element(By.CSS_SELECTOR, f'section[data-path="{path}"]')
        echo_in_the_page(panel, "<b>not bold</b>")


def echo_in_the_page(panel, text):
    wait = WebDriverWait(panel.parent, 10)
    find = panel.find_element
    log = find(By.CLASS_NAME, "log")
    find(By.CLASS_NAME, "connect").click()
    wait.until(lambda _: find(By.CLASS_NAME, "state").text == "open")
    find(By.CLASS_NAME, "message").send_keys(text)
    for _ in range(20):  # more lines than the log shows at once
        find(By.CLASS_NAME, "send").click()
    # Shown as text: the markup arrives in the log as typed, not rendered.
    wait.until(lambda _: log.get_property("value").count(f"< {text}") == 20)
    # The log follows the newest line.
    assert panel.parent.execute_script(
        "const log = arguments[0]; return log.scrollTop + log.clientHeight >= log.scrollHeight - 1",
        log)
    find(By.CLASS_NAME, "disconnect").click()
    wait.until(lambda _: "closed, code" in log.get_property("value"))
    # The page says the socket is closed, and keeps what the user typed.
    assert find(By.CLASS_NAME, "state").text == "closed"
    assert find(By.CLASS_NAME, "message").get_property("value") == text
