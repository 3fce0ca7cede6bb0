"""The lesson as a learner runs it: Daphne's runserver in its own process, real clients."""

import asyncio
import json
import urllib.error
import urllib.request

import pytest
import redis.asyncio as redis
import websockets
from clients import EventStream, recv_json
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

hostile = pytest.mark.hostile


async def ws_connect(server, path):
    return await websockets.connect(server.ws(path), origin=server.origin, open_timeout=10)


async def ws_join(server, room):
    """A real socket in `room`, its first frame ({"channel_name": ...}) read."""
    ws = await ws_connect(server, f"/ws/ajwc/{room}/")
    assert "channel_name" in await recv_json(ws)
    return ws


@hostile("a binary frame and text that is not JSON, to every websocket endpoint",
         '{"error": ...} (text echoes echo the text), the socket stays open')
@pytest.mark.parametrize("path", ["/ws/wsc/", "/ws/awsc/", "/ws/jwc/", "/ws/ajwc/lobby/"])
async def test_every_endpoint_answers_a_binary_frame_with_an_error_and_stays_open(
    lesson_server, path
):
    ws = await ws_connect(lesson_server, path)
    if "ajwc" in path:
        await recv_json(ws)  # {"channel_name": ...}
    await ws.send(b'{"message": "binary"}')
    assert "error" in await recv_json(ws)
    await ws.send("not json {")
    answer = await asyncio.wait_for(ws.recv(), 10)
    if "jwc" in path:
        assert "error" in json.loads(answer)
    else:
        assert answer == "not json {"
    await ws.send(json.dumps({"message": "fine"}))
    assert "error" not in await recv_json(ws)
    await ws.close()


def test_pages_static_files_and_streams_share_one_http_router(lesson_server):
    """ProtocolTypeRouter's "http" is a URLRouter now: /events/ goes to a consumer, the rest to
    Django, and runserver still serves static files in front of both."""
    for path, content_type in [("/", "text/html"), ("/chat/lobby/", "text/html"),
                               ("/static/admin/css/base.css", "text/css")]:
        with urllib.request.urlopen(lesson_server.url + path, timeout=10) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith(content_type)
    # A bad room name matches no consumer route: the catch-all hands it to Django, which 404s.
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(lesson_server.url + "/events/bad%20name/", timeout=10)
    assert error.value.code == 404


async def test_the_stream_carries_every_message_of_its_room(lesson_server):
    async with EventStream(lesson_server.url + "/events/stream/") as stream:
        assert stream.status_line == "HTTP/1.1 200 OK"
        assert stream.headers["content-type"] == "text/event-stream"
        assert stream.headers["transfer-encoding"] == "chunked"
        alice = await ws_join(lesson_server, "stream")
        for text in ["hello", "two\nlines", "<b>not HTML</b>"]:
            await alice.send(json.dumps({"message": text}))
            frame = await asyncio.wait_for(alice.recv(), 10)
            assert await stream.next_data() == frame == json.dumps({"message": text})
        await alice.close()


async def burst(server, room, sockets=20, messages=20):
    """Every socket of a room sends `messages` at once, without waiting: every socket, and a
    stream, must hear all of them, each sender's in order."""
    clients = [await ws_join(server, room) for _ in range(sockets)]
    expected = sockets * messages

    async def hear(next_frame):
        heard = [json.loads(await next_frame())["message"] for _ in range(expected)]
        for sender in range(sockets):
            mine = [m for m in heard if m.startswith(f"{sender}-")]
            assert mine == [f"{sender}-{n}" for n in range(messages)]
        return len(heard)

    async def send(sender, ws):
        for n in range(messages):
            await ws.send(json.dumps({"message": f"{sender}-{n}"}))

    async with EventStream(f"{server.url}/events/{room}/") as stream:
        listeners = [asyncio.ensure_future(hear(lambda ws=ws: asyncio.wait_for(ws.recv(), 20)))
                     for ws in clients]
        listeners.append(asyncio.ensure_future(hear(stream.next_data)))
        await asyncio.gather(*(send(i, ws) for i, ws in enumerate(clients)))
        assert await asyncio.gather(*listeners) == [expected] * (sockets + 1)
    for ws in clients:
        await ws.close()


@hostile("20 sockets in a room send 20 messages each at once, in memory",
         "every socket and the event stream hear all 400, each sender's in order")
async def test_a_burst_in_a_busy_room_loses_nothing_in_memory(lesson_server):
    await burst(lesson_server, "busy")


@pytest.fixture
def redis_server(start_server, redis_url, prefix):
    return start_server(env={"REDIS_URL": redis_url, "CHANNEL_LAYER_PREFIX": prefix})


@hostile("20 sockets in a room send 20 messages each at once, on Redis",
         "every socket and the event stream hear all 400, each sender's in order")
async def test_a_burst_in_a_busy_room_loses_nothing_on_redis(redis_server):
    await burst(redis_server, "busy")


@hostile("an event-stream client that goes away mid-stream",
         "the server leaves the room's group; the room goes on")
async def test_a_stream_client_that_goes_away_leaves_no_group_membership(
    redis_server, redis_url, prefix
):
    group = f"{prefix}:group:chat_gone"  # where channels_redis keeps the room's members
    client = redis.from_url(redis_url)
    try:
        async with EventStream(f"{redis_server.url}/events/gone/"):
            assert await client.zcard(group) == 1
        # The stream's connection is closed: Daphne sends http.disconnect, disconnect() leaves.
        async with asyncio.timeout(10):
            while await client.zcard(group):
                await asyncio.sleep(0.05)
    finally:
        await client.aclose()
    ws = await ws_join(redis_server, "gone")
    await ws.send(json.dumps({"message": "still works"}))
    assert await recv_json(ws) == {"message": "still works"}
    await ws.close()


def test_the_page_talks_to_every_endpoint(lesson_server, browser):
    browser.get(lesson_server.url + "/")
    panels = {p.get_attribute("data-url"): p for p in browser.find_elements(By.CSS_SELECTOR,
                                                                              "section")}
    assert set(panels) == {"/ws/wsc/", "/ws/awsc/", "/ws/jwc/", "/ws/ajwc/ROOM/",
                           "/events/ROOM/"}
    wait = WebDriverWait(browser, 10)

    def part(url, name):
        return panels[url].find_element(By.CLASS_NAME, name)

    def connect(url):
        part(url, "connect").click()
        wait.until(lambda _: part(url, "state").text == "open")

    def log_has(url, text):
        wait.until(lambda _: text in part(url, "log").text)

    # The room, as a websocket and as a stream: what is sent arrives in both, as text.
    connect("/events/ROOM/")
    connect("/ws/ajwc/ROOM/")
    frame = part("/ws/ajwc/ROOM/", "frame")
    frame.clear()
    frame.send_keys('{"message": "<b>hi</b>"}')
    part("/ws/ajwc/ROOM/", "send").click()
    log_has("/ws/ajwc/ROOM/", '< {"message": "<b>hi</b>"}')
    log_has("/events/ROOM/", '< {"message": "<b>hi</b>"}')
    assert browser.find_elements(By.CSS_SELECTOR, "pre.log b") == []

    # A binary frame to the JSON echo: an error, and the socket stays open.
    connect("/ws/jwc/")
    part("/ws/jwc/", "send-binary").click()
    log_has("/ws/jwc/", '< {"error": ')
    assert part("/ws/jwc/", "state").text == "open"

    # The log follows its newest line.
    connect("/ws/wsc/")
    for _ in range(40):
        part("/ws/wsc/", "send").click()
    wait.until(lambda _: part("/ws/wsc/", "log").text.count("< hello") == 40)
    assert browser.execute_script(
        "const log = arguments[0]; return log.scrollHeight - log.scrollTop - log.clientHeight;",
        part("/ws/wsc/", "log"),
    ) <= 1

    # A socket the server refuses: the page says it is closed, and keeps what was typed.
    part("/ws/ajwc/ROOM/", "disconnect").click()
    wait.until(lambda _: part("/ws/ajwc/ROOM/", "state").text.startswith("closed"))
    room = part("/ws/ajwc/ROOM/", "room")
    room.clear()
    room.send_keys("bad name")
    frame.clear()
    frame.send_keys('{"message": "typed, not lost"}')
    part("/ws/ajwc/ROOM/", "connect").click()
    wait.until(lambda _: part("/ws/ajwc/ROOM/", "state").text == "closed (code 1006)")
    assert frame.get_attribute("value") == '{"message": "typed, not lost"}'
