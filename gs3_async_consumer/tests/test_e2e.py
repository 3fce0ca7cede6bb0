"""The lesson as a learner runs it: Daphne's runserver in its own process, real clients."""

import asyncio
import json
import urllib.request

import pytest
import websockets
from bad_input import BAD_BYTES, BAD_TEXT, BINARY_ERROR, KiB, MiB
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

PATH = "/ws/ac/"
# Long enough that it is always still running when a test stops it; a stopped stream is quick.
LONG = json.dumps({"count": 100, "interval": 0.02})


def counted(count):
    return [{"n": n} for n in range(1, count + 1)] + [{"done": True}]


async def receive_until(ws, last):
    """Every frame up to and including `last`."""
    frames = []
    while not frames or frames[-1] != last:
        frames.append(json.loads(await ws.recv()))
    return frames


def test_landing_page_has_the_stream_client(lesson_server):
    with urllib.request.urlopen(lesson_server.url + "/") as response:
        page = response.read().decode()
    assert response.status == 200
    assert "AsyncConsumer" in page and '"/ws/ac/"' in page
    assert 'id="start"' in page and 'id="stop"' in page and 'id="close"' in page


async def test_real_client_gets_each_frame_in_order_then_done(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send(json.dumps({"count": 10, "interval": 0.01}))
        assert await receive_until(ws, {"done": True}) == counted(10)
        # No interval: the default, a tenth of a second.
        await ws.send(json.dumps({"count": 2, "note": "extra keys are allowed"}))
        assert await receive_until(ws, {"done": True}) == counted(2)


async def test_close_makes_the_server_close_with_1000(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send(json.dumps({"close": True}))
        with pytest.raises(websockets.ConnectionClosedOK) as closed:
            await ws.recv()
    assert closed.value.rcvd.code == 1000


async def test_close_mid_stream_closes_with_1000_before_the_stream_ends(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send(LONG)
        assert json.loads(await ws.recv()) == {"n": 1}
        await ws.send(json.dumps({"close": True}))
        frames = []
        with pytest.raises(websockets.ConnectionClosedOK) as closed:
            while True:
                frames.append(json.loads(await ws.recv()))
    assert closed.value.rcvd.code == 1000
    # Unlike gs2, the close did not wait for the stream: no "done", the count broken off.
    assert frames == [{"n": n} for n in range(2, len(frames) + 2)]
    assert len(frames) < 99


@pytest.mark.hostile("every bad frame of tests/bad_input.py under Daphne's limit, text and "
                     'binary, then `{"stop": true}` with no stream, one after another on one '
                     "real socket",
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
        await ws.send(json.dumps({"stop": True}))
        assert "no stream is running" in json.loads(await ws.recv())["error"]
        # The same socket still works.
        await ws.send(json.dumps({"count": 2, "interval": 0}))
        assert await receive_until(ws, {"done": True}) == counted(2)


@pytest.mark.hostile("a frame of 1 MiB - 1 byte, just under Daphne's limit",
                     'it reaches the consumer, which answers `{"error": "message too long: '
                     '..."}`; the socket stays open')
async def test_a_frame_just_under_the_limit_gets_an_error(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send("x" * (MiB - 1))
        assert "message too long" in json.loads(await ws.recv())["error"]
        await ws.send(json.dumps({"count": 1, "interval": 0}))
        assert await receive_until(ws, {"done": True}) == counted(1)


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
        assert await receive_until(ws, {"done": True}) == counted(1)


async def test_stop_ends_the_stream_and_no_frame_follows_stopped(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send(LONG)
        assert json.loads(await ws.recv()) == {"n": 1}
        await ws.send(json.dumps({"stop": True}))
        frames = await receive_until(ws, {"stopped": True})
        assert frames[:-1] == [{"n": n} for n in range(2, len(frames) + 1)]
        # Ask again: the very next frame is the answer, with no {"n"} before it.
        await ws.send(json.dumps({"stop": True}))
        assert "no stream is running" in json.loads(await ws.recv())["error"]


async def test_count_while_a_stream_runs_is_an_error_and_the_stream_goes_on(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send(LONG)
        assert json.loads(await ws.recv()) == {"n": 1}
        await ws.send(json.dumps({"count": 3, "interval": 0}))
        frames = await receive_until(ws, {"n": 5})
        errors = [frame for frame in frames if "error" in frame]
        assert len(errors) == 1 and "a stream is already running" in errors[0]["error"]
        assert [frame for frame in frames if "n" in frame] == [{"n": n} for n in range(2, 6)]
        await ws.send(json.dumps({"stop": True}))
        await receive_until(ws, {"stopped": True})


async def test_two_streams_on_one_server_interleave(lesson_server):
    arrivals = []  # (socket, frame) in the order they arrive, across both sockets

    async def read(name, ws, last):
        frame = None
        while frame != last:
            frame = json.loads(await ws.recv())
            arrivals.append((name, frame))

    async with (websockets.connect(lesson_server.ws(PATH)) as first,
                websockets.connect(lesson_server.ws(PATH)) as second):
        await first.send(LONG)
        await read("first", first, {"n": 1})
        reading_first = asyncio.create_task(read("first", first, {"stopped": True}))
        await second.send(json.dumps({"count": 10, "interval": 0.02}))
        await read("second", second, {"done": True})
        # The first stream is still running: wait for one more of its frames, then stop it.
        second_done = len(arrivals)
        async with asyncio.timeout(10):
            while not any(name == "first" for name, _ in arrivals[second_done:]):
                await asyncio.sleep(0.01)
        await first.send(json.dumps({"stop": True}))
        await reading_first

    names = [name for name, _ in arrivals]
    first_of_second = names.index("second")
    last_of_second = len(names) - 1 - names[::-1].index("second")
    # The whole second stream arrived while the first was running: first frames before it,
    # among it and after it.
    assert "first" in names[:first_of_second]
    assert "first" in names[first_of_second:last_of_second]
    assert "first" in names[last_of_second + 1:]
    assert [frame for name, frame in arrivals if name == "second"] == counted(10)
    first_frames = [frame for name, frame in arrivals if name == "first"]
    assert first_frames[:-1] == [{"n": n} for n in range(1, len(first_frames))]
    assert first_frames[-1] == {"stopped": True}


async def test_many_sockets_at_once_each_get_their_whole_stream(lesson_server):
    async def stream(count):
        async with websockets.connect(lesson_server.ws(PATH)) as ws:
            await ws.send(json.dumps({"count": count, "interval": 0.01}))
            return await receive_until(ws, {"done": True})

    counts = range(1, 21)
    assert await asyncio.gather(*(stream(c) for c in counts)) == [counted(c) for c in counts]


@pytest.mark.hostile("five clients that vanish mid-stream, one after another",
                     "each stream is cancelled with its consumer; a new connection streams")
async def test_a_disconnect_mid_stream_leaves_the_server_working(lesson_server):
    for _ in range(5):
        async with websockets.connect(lesson_server.ws(PATH)) as ws:
            await ws.send(LONG)
            assert json.loads(await ws.recv()) == {"n": 1}
    async with websockets.connect(lesson_server.ws(PATH)) as ws:
        await ws.send(json.dumps({"count": 2, "interval": 0}))
        assert await receive_until(ws, {"done": True}) == counted(2)


@pytest.mark.hostile("a flood: 500 bad frames from one socket, sent without reading the answers, "
                     "with a long stream running on it",
                     "another socket connects and streams meanwhile; the flooding socket gets "
                     "all 500 errors, in order, and its stream goes on")
async def test_a_flood_from_one_socket_does_not_stop_another(lesson_server):
    async with websockets.connect(lesson_server.ws(PATH)) as flood:
        await flood.send(LONG)
        for _ in range(500):
            await flood.send("flood")
        async with websockets.connect(lesson_server.ws(PATH)) as other:
            await other.send(json.dumps({"count": 3, "interval": 0}))
            assert await receive_until(other, {"done": True}) == counted(3)
        frames = []
        while sum("error" in frame for frame in frames) < 500:
            frames.append(json.loads(await flood.recv()))
        assert all("not valid JSON" in frame["error"] for frame in frames if "error" in frame)
        # The stream counts on, in order, between the errors (closing the socket ends it).
        numbers = [frame["n"] for frame in frames if "n" in frame]
        assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.hostile("a handshake to a path no route matches, `/ws/nope/`",
                     "refused at the handshake (HTTP 500 from the router), within 3 s")
async def test_unknown_path_is_refused_at_the_handshake(lesson_server):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with asyncio.timeout(3):
            await websockets.connect(lesson_server.ws("/ws/nope/"))
    assert refused.value.response.status_code >= 400


@pytest.mark.hostile('HTML in an error the page shows, `{"count": "<b>5</b>"}`, in Chromium',
                     "shown as text (`textContent`): no `<b>` element in the page")
def test_the_stop_button_ends_the_stream_in_the_page(lesson_server, browser):
    browser.get(lesson_server.url + "/")
    wait = WebDriverWait(browser, 10, poll_frequency=0.05)
    element = browser.find_element
    element(By.ID, "connect").click()
    wait.until(lambda _: element(By.ID, "state").text == "open")
    for name, value in (("count", "100"), ("interval", "0.1")):
        element(By.ID, name).clear()
        element(By.ID, name).send_keys(value)
    element(By.ID, "start").click()
    # The number climbs while the stream runs...
    wait.until(lambda _: element(By.ID, "latest").text not in ("-", "1"))
    element(By.ID, "stop").click()
    wait.until(lambda _: element(By.ID, "status").text == "stopped")
    # ...and stops: no frame after {"stopped": true}, and the count never got to 100.
    log = element(By.ID, "log").get_property("value").splitlines()
    assert log[-1] == '< {"stopped": true}'
    assert log[-2] == '> {"stop":true}' or log[-2].startswith('< {"n": ')
    assert int(element(By.ID, "latest").text) < 100
    assert not any('"done"' in line for line in log)

    # An error that quotes the client's markup shows it as text, not as HTML.
    element(By.ID, "raw").send_keys('{"count": "<b>5</b>"}')
    element(By.ID, "send-raw").click()
    wait.until(lambda _: element(By.ID, "status").text.startswith("error:"))
    assert '"<b>5</b>"' in element(By.ID, "status").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#status b")
