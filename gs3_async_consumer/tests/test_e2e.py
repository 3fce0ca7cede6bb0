"""The lesson as a learner runs it: Daphne's runserver in its own process, real clients."""

import asyncio
import json
import urllib.request

import pytest
import websockets
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

PATH = "/ws/ac/"
MiB = 1024 * 1024


def counted(count):
    return [{"n": n} for n in range(1, count + 1)] + [{"done": True}]


async def receive_stream(ws):
    """Every frame up to and including {"done": true}."""
    frames = []
    while not frames or frames[-1] != {"done": True}:
        frames.append(json.loads(await ws.recv()))
    return frames


def test_home_page_has_a_client_for_both_sockets(lesson_server):
    with urllib.request.urlopen(lesson_server.url + "/") as response:
        page = response.read().decode()
    assert response.status == 200
    assert 'data-path="/ws/sc/"' in page and 'data-path="/ws/ac/"' in page


async def test_a_real_client_gets_each_frame_in_order_then_done(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send(json.dumps({"count": 10, "interval": 0.01}))
        assert await receive_stream(ws) == counted(10)
        # No interval: the default, a tenth of a second.
        await ws.send(json.dumps({"count": 2}))
        assert await receive_stream(ws) == counted(2)


async def test_close_makes_the_server_close_with_1000(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send(json.dumps({"close": True}))
        with pytest.raises(websockets.ConnectionClosedOK) as closed:
            await ws.recv()
    assert closed.value.rcvd.code == 1000


@pytest.mark.hostile("bad frames one after another on one real socket: not JSON, not an object, "
                     "N out of range, `true` as N, NaN as interval, a binary frame",
                     'an `{"error": ...}` for each; the same socket then streams')
async def test_bad_input_gets_an_error_each_and_the_socket_streams_on(lesson_server):
    bad = ["not json", "[3]", '{"count": 0}', '{"count": 101}', '{"count": true}',
           '{"count": 3, "interval": NaN}', b'{"count": 3}']
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        for frame in bad:
            await ws.send(frame)
            assert list(json.loads(await ws.recv())) == ["error"], frame
        await ws.send(json.dumps({"count": 2, "interval": 0}))
        assert await receive_stream(ws) == counted(2)


@pytest.mark.hostile("a frame of 1 MiB", "Daphne drops the connection "
                     "(`DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE` in settings.py) before the consumer "
                     "sees it; a new connection works")
async def test_a_frame_of_1_mib_drops_the_connection_and_the_next_one_works(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH), max_size=None) as ws:
        # Dropped without a close frame (or with 1009 "message too big"), maybe before the
        # client has even finished sending.
        with pytest.raises(websockets.ConnectionClosedError):
            await ws.send("x" * MiB)
            await ws.recv()
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send(json.dumps({"count": 1, "interval": 0}))
        assert await receive_stream(ws) == counted(1)


async def test_stop_over_a_real_socket_ends_the_stream(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send(json.dumps({"count": 100, "interval": 0.02}))
        assert json.loads(await ws.recv()) == {"n": 1}
        await ws.send(json.dumps({"stop": True}))
        frames = []
        while not frames or frames[-1] != {"stopped": True}:
            frames.append(json.loads(await ws.recv()))
        assert frames[:-1] == [{"n": n} for n in range(2, len(frames) + 1)]
        # Nothing after "stopped": the next frame answers the next message.
        await ws.send(json.dumps({"count": 1, "interval": 0}))
        assert await receive_stream(ws) == counted(1)


@pytest.mark.hostile("clients that vanish mid-stream (20 sockets closed while streaming)",
                     "their tasks are cancelled; the server streams on for a new connection")
async def test_sockets_closed_mid_stream_do_not_disturb_the_next_one(lesson_server):
    async def vanish():
        async with websockets.connect(lesson_server.ws(PATH)) as ws:
            await ws.send(json.dumps({"count": 100, "interval": 0.05}))
            assert json.loads(await ws.recv()) == {"n": 1}

    await asyncio.gather(*(vanish() for _ in range(20)))
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send(json.dumps({"count": 3, "interval": 0}))
        assert await receive_stream(ws) == counted(3)


async def test_many_sockets_at_once_all_get_every_frame_side_by_side(lesson_server):
    arrivals = []  # (socket, frame), in the order the frames arrive

    async def stream(label):
        async with websockets.connect(lesson_server.ws(PATH)) as ws:
            await ws.send(json.dumps({"count": 10, "interval": 0.05}))
            frames = []
            while not frames or frames[-1] != {"done": True}:
                frames.append(json.loads(await ws.recv()))
                arrivals.append(label)
            return frames

    assert await asyncio.gather(*map(stream, range(30))) == [counted(10)] * 30
    # Every stream had begun before any had ended: they ran at the same time.
    first = [arrivals.index(label) for label in range(30)]
    last = [len(arrivals) - 1 - arrivals[::-1].index(label) for label in range(30)]
    assert max(first) < min(last)


async def test_the_sync_stream_of_gs2_is_still_at_ws_sc(lesson_server):
    async with websockets.connect(lesson_server.ws("/ws/sc/")) as ws:
        await ws.send(json.dumps({"stop": True}))  # gs2's protocol has no stop
        assert "error" in json.loads(await ws.recv())
        await ws.send(json.dumps({"count": 3, "interval": 0}))
        assert await receive_stream(ws) == counted(3)


def test_the_page_streams_stops_closes_and_keeps_what_was_typed(lesson_server, browser):
    browser.get(lesson_server.url + "/")
    wait = WebDriverWait(browser, 10)
    panel = browser.find_element(By.CSS_SELECTOR, f'section[data-path="{PATH}"]')
    find = panel.find_element
    log = find(By.CLASS_NAME, "log")
    find(By.CLASS_NAME, "connect").click()
    wait.until(lambda _: find(By.CLASS_NAME, "state").text == "open")
    find(By.CSS_SELECTOR, "button[data-send*=count]").click()
    wait.until(lambda _: '< {"done": true}' in log.get_property("value"))
    assert '< {"n": 20}' in log.get_property("value")
    find(By.CSS_SELECTOR, "button[data-send*='100']").click()
    wait.until(lambda _: '< {"n": 3}' in log.get_property("value"))
    find(By.CSS_SELECTOR, "button[data-send*=stop]").click()
    wait.until(lambda _: '< {"stopped": true}' in log.get_property("value"))
    # The log follows the newest line.
    assert browser.execute_script(
        "const log = arguments[0]; return log.scrollTop + log.clientHeight >= log.scrollHeight - 1",
        log)
    # Anything typed is sent as it is; this gets an error.
    find(By.CLASS_NAME, "message").send_keys('{"count": "<b>5</b>"}')
    find(By.CLASS_NAME, "send").click()
    wait.until(lambda _: '< {"error":' in log.get_property("value"))
    # The server closes: the page says so and keeps the typed text.
    find(By.CSS_SELECTOR, "button[data-send*=close]").click()
    wait.until(lambda _: "closed, code 1000" in log.get_property("value"))
    assert find(By.CLASS_NAME, "state").text == "closed"
    assert find(By.CLASS_NAME, "message").get_property("value") == '{"count": "<b>5</b>"}'
