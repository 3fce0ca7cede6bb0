"""The lesson as a learner runs it: Daphne's runserver in its own process, real clients."""

import asyncio
import json
import urllib.request

import pytest
import websockets
from bad_input import BAD_BYTES, BAD_TEXT, BINARY_ERROR, KiB, MiB
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

PATH = "/ws/sc/"


def counted(count):
    return [{"n": n} for n in range(1, count + 1)] + [{"done": True}]


async def receive_stream(ws):
    """Every frame up to and including {"done": true}."""
    frames = []
    while not frames or frames[-1] != {"done": True}:
        frames.append(json.loads(await ws.recv()))
    return frames


def test_landing_page_has_the_stream_client(lesson_server):
    with urllib.request.urlopen(lesson_server.url + "/") as response:
        page = response.read().decode()
    assert response.status == 200
    assert "SyncConsumer" in page and '"/ws/sc/"' in page
    assert 'id="start"' in page and 'id="close"' in page


async def test_real_client_gets_each_frame_in_order_then_done(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send(json.dumps({"count": 10, "interval": 0.01}))
        assert await receive_stream(ws) == counted(10)
        # No interval: the default, a tenth of a second.
        await ws.send(json.dumps({"count": 2, "note": "extra keys are allowed"}))
        assert await receive_stream(ws) == counted(2)


async def test_close_makes_the_server_close_with_1000(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send(json.dumps({"close": True}))
        with pytest.raises(websockets.ConnectionClosedOK) as closed:
            await ws.recv()
    assert closed.value.rcvd.code == 1000


@pytest.mark.hostile("every bad frame of tests/bad_input.py under Daphne's limit, text and "
                     "binary, one after another on one real socket",
                     'an `{"error": ...}` for each, in order; the same socket then streams')
async def test_every_bad_input_gets_an_error_and_the_socket_stays_open(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        for case in BAD_TEXT:
            text, reason = case.values
            if len(text.encode()) >= MiB:
                continue  # Daphne drops these: see the test below
            await ws.send(text)
            answer = json.loads(await ws.recv())
            assert reason in answer["error"], case.id
        for case in BAD_BYTES:
            await ws.send(case.values[0])
            assert BINARY_ERROR in json.loads(await ws.recv())["error"], case.id
        # The same socket still works.
        await ws.send(json.dumps({"count": 2, "interval": 0}))
        assert await receive_stream(ws) == counted(2)


@pytest.mark.hostile("a frame of 1 MiB - 1 byte, just under Daphne's limit",
                     'it reaches the consumer, which answers `{"error": "message too long: '
                     '..."}`; the socket stays open')
async def test_a_frame_just_under_the_limit_gets_an_error(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send("x" * (MiB - 1))
        assert "message too long" in json.loads(await ws.recv())["error"]
        await ws.send(json.dumps({"count": 1, "interval": 0}))
        assert await receive_stream(ws) == counted(1)


OVER_THE_LIMIT = [
    pytest.param("x" * MiB, id="1-MiB", marks=pytest.mark.hostile(
        "a frame of exactly 1 MiB, over a real socket",
        "Daphne drops the connection (`DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE` in settings.py); "
        "the consumer never sees it; a new connection works")),
    pytest.param("x" * (4 * MiB), id="4-MiB", marks=pytest.mark.hostile(
        "a frame of 4 MiB", "Daphne drops the connection; a new connection works")),
    pytest.param(["x" * (64 * KiB)] * 32, id="2-MiB-in-fragments", marks=pytest.mark.hostile(
        "a message of 2 MiB in 32 fragments of 64 KiB (each frame under the limit)",
        "Daphne drops the connection: the limit is on the whole message")),
    pytest.param(b"\xff\xfe not UTF-8", id="invalid-utf-8", marks=pytest.mark.hostile(
        "a text frame that is not valid UTF-8",
        "Daphne drops the connection; the consumer never sees it")),
]


@pytest.mark.parametrize("message", OVER_THE_LIMIT)
async def test_a_message_daphne_refuses_drops_the_connection_only(lesson_server, message):
    async with websockets.connect(lesson_server.ws(PATH), max_size=None) as ws:
        # Daphne's own checks drop the connection, with no close frame (or with 1009 "message
        # too big", 1007 "invalid data"), maybe before the client has finished sending.
        with pytest.raises(websockets.ConnectionClosedError) as closed:
            # text=True sends bytes as a text frame: only a misbehaving client does that.
            await ws.send(message, text=True)
            await ws.recv()
    assert closed.value.rcvd is None or closed.value.rcvd.code in (1007, 1009)
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send(json.dumps({"count": 1, "interval": 0}))
        assert await receive_stream(ws) == counted(1)


async def test_close_sent_mid_stream_is_handled_after_the_whole_stream(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send(json.dumps({"count": 5, "interval": 0.01}))
        assert json.loads(await ws.recv()) == {"n": 1}
        await ws.send(json.dumps({"close": True}))
        # The handler is busy in its loop: every remaining frame comes before the close.
        assert await receive_stream(ws) == counted(5)[1:]
        with pytest.raises(websockets.ConnectionClosedOK) as closed:
            await ws.recv()
    assert closed.value.rcvd.code == 1000


@pytest.mark.hostile("a stream running on one socket while a second socket connects",
                     "the second handshake waits until the stream ends: every SyncConsumer "
                     "handler in the process shares one thread (taught here; gs3 does not wait)")
async def test_a_running_stream_holds_up_the_next_connection(lesson_server):
    arrivals = []
    async with websockets.connect(lesson_server.ws(PATH)) as first:
        await first.send(json.dumps({"count": 5, "interval": 0.01}))
        assert json.loads(await first.recv()) == {"n": 1}

        async def read_first():
            for _ in range(5):
                arrivals.append(("first", json.loads(await first.recv())))

        reader = asyncio.create_task(read_first())
        # The handshake needs websocket_connect, which waits for the one busy thread.
        async with websockets.connect(lesson_server.ws(PATH)) as second:
            arrivals.append(("second", "open"))
            await second.send(json.dumps({"count": 1, "interval": 0}))
            arrivals.extend(("second", frame) for frame in await receive_stream(second))
        await reader
    assert arrivals == [("first", frame) for frame in counted(5)[1:]] + [
        ("second", "open"),
        ("second", {"n": 1}),
        ("second", {"done": True}),
    ]


async def test_many_sockets_at_once_each_get_their_whole_stream(lesson_server):
    async def stream(count):
        async with websockets.connect(lesson_server.ws(PATH)) as ws:
            await ws.send(json.dumps({"count": count, "interval": 0}))
            return await receive_stream(ws)

    counts = range(1, 11)
    assert await asyncio.gather(*(stream(c) for c in counts)) == [counted(c) for c in counts]


@pytest.mark.hostile("a flood: 500 bad frames from one socket, sent without reading the answers",
                     "another socket connects and streams meanwhile; the flooding socket gets "
                     "all 500 errors, in order")
async def test_a_flood_from_one_socket_does_not_stop_another(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as flood:
        for _ in range(500):
            await flood.send("flood")
        async with websockets.connect(lesson_server.ws(PATH)) as other:
            await other.send(json.dumps({"count": 3, "interval": 0}))
            assert await receive_stream(other) == counted(3)
        answers = [json.loads(await flood.recv()) for _ in range(500)]
        assert all("not valid JSON" in answer["error"] for answer in answers)


@pytest.mark.hostile("a handshake to a path no route matches, `/ws/nope/`",
                     "refused at the handshake (HTTP 500 from the router), within 3 s")
async def test_unknown_path_is_refused_at_the_handshake(lesson_server):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with asyncio.timeout(3):
            await websockets.connect(lesson_server.ws("/ws/nope/"))
    assert refused.value.response.status_code >= 400


@pytest.mark.hostile('HTML in an error the page shows, `{"count": "<b>5</b>"}`, in Chromium',
                     "shown as text (`textContent`): no `<b>` element in the page")
def test_the_page_shows_each_frame_as_it_arrives(lesson_server, browser):
    browser.get(lesson_server.url + "/")
    wait = WebDriverWait(browser, 10, poll_frequency=0.05)
    element = browser.find_element
    element(By.ID, "connect").click()
    wait.until(lambda _: element(By.ID, "state").text == "open")
    # Note every value the counter takes: drawn once per frame, not once at the end.
    browser.execute_script("""
        const latest = document.getElementById("latest");
        window.seen = [];
        new MutationObserver(() => window.seen.push(latest.textContent))
            .observe(latest, {childList: true, characterData: true, subtree: true});
    """)
    for name, value in (("count", "5"), ("interval", "0.02")):
        element(By.ID, name).clear()
        element(By.ID, name).send_keys(value)
    element(By.ID, "start").click()
    wait.until(lambda _: element(By.ID, "status").text == "done")
    assert browser.execute_script("return window.seen") == ["1", "2", "3", "4", "5"]

    # An error that quotes the client's markup shows it as text, not as HTML.
    element(By.ID, "raw").send_keys('{"count": "<b>5</b>"}')
    element(By.ID, "send-raw").click()
    wait.until(lambda _: element(By.ID, "status").text.startswith("error:"))
    assert '"<b>5</b>"' in element(By.ID, "status").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#status b")
    assert '< {"done": true}' in element(By.ID, "log").get_property("value")
