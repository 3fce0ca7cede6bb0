"""The lesson as a learner runs it: Daphne's runserver in its own process, real clients."""

import asyncio
import json
import urllib.request

import pytest
import websockets
from bad_input import BAD_TEXT
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

PATH = "/ws/sc/"
MiB = 1024 * 1024


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


async def test_every_bad_input_gets_an_error_and_the_socket_stays_open(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        for case in BAD_TEXT:
            text, reason = case.values
            await ws.send(text)
            answer = json.loads(await ws.recv())
            assert reason in answer["error"], case.id
        for data in (b"\x00\xff", b'{"count": 3}', b""):
            await ws.send(data)
            assert "binary frames are not accepted" in json.loads(await ws.recv())["error"]
        # The same socket still works.
        await ws.send(json.dumps({"count": 2, "interval": 0}))
        assert await receive_stream(ws) == counted(2)


async def test_a_frame_over_1_mib_is_dropped_by_daphne_and_the_server_lives_on(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send("x" * (MiB + 1))
        # Daphne's own limit (DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE) drops the connection, with no
        # close frame or with 1009 "message too big": the consumer never sees the frame.
        with pytest.raises(websockets.ConnectionClosedError) as closed:
            await ws.recv()
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
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


async def test_unknown_path_is_refused_at_the_handshake(lesson_server):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with asyncio.timeout(3):
            await websockets.connect(lesson_server.ws("/ws/nope/"))
    assert refused.value.response.status_code >= 400


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
