"""The lesson as a learner runs it: Daphne's runserver in its own process, real clients."""

import asyncio
import json
import urllib.request
import uuid

import pytest
import redis.asyncio as redis
import websockets
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from demo.flood import FLOOD_CLOSE_CODE, FLOOD_ERROR

TEXT_ECHOES = ["/ws/wsc/", "/ws/awsc/"]
CHATS = ["/ws/ajwc/", "/ws/jwc/"]
hostile = pytest.mark.hostile


def open_socket(server, path, origin=None):
    # Like a browser, send the page's Origin: AllowedHostsOriginValidator refuses sockets without.
    return websockets.connect(server.ws(path), origin=origin or server.origin, open_timeout=5)


async def recv(ws):
    async with asyncio.timeout(5):
        return await ws.recv()


async def recv_json(ws):
    return json.loads(await recv(ws))


async def recv_error(ws):
    frame = await recv_json(ws)
    assert list(frame) == ["error"] and frame["error"]
    return frame["error"]


async def assert_refused(server, path, origin=None):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with asyncio.timeout(3):
            await open_socket(server, path, origin)
    return refused.value.response.status_code


def new_room():
    return f"room-{uuid.uuid4().hex[:12]}"


def test_landing_page_has_a_client_for_every_endpoint(lesson_server):
    with urllib.request.urlopen(lesson_server.url + "/") as response:
        page = response.read().decode()
    assert response.status == 200
    for name in ("WebsocketConsumer", "AsyncWebsocketConsumer", "JsonWebsocketConsumer",
                 "AsyncJsonWebsocketConsumer"):
        assert f"<code>{name}</code>" in page
    for path in ("/ws/wsc/", "/ws/awsc/", "/ws/jwc/", "/ws/ajwc/ROOM/", "/ws/jwc/ROOM/"):
        assert f'data-path="{path}"' in page
    assert "innerHTML" not in page


@pytest.mark.parametrize("path", TEXT_ECHOES)
async def test_text_echo_through_the_real_server(lesson_server, path):
    async with open_socket(lesson_server, path) as ws:
        frames = [f"frame {n}" for n in range(20)] + ["ünïcödé ✓", "x" * 500_000]
        for text in frames:
            await ws.send(text)
        assert [await recv(ws) for _ in frames] == frames
        await ws.send(b"\x00\xff")
        assert await recv_error(ws) == "binary frames are not accepted: send text"
        await ws.send("")
        assert await recv_error(ws) == "empty frame: there is nothing to echo"
        await ws.send("after binary and empty")
        assert await recv(ws) == "after binary and empty"


@hostile("bad frames to the JSON echo over a real socket: not JSON, an array, empty, `NaN`, "
         "nesting 200,000 deep, binary", "`{\"error\": ...}` for each; the socket stays open")
async def test_json_echo_and_its_errors_through_the_real_server(lesson_server):
    async with open_socket(lesson_server, "/ws/jwc/") as ws:
        await ws.send(json.dumps({"a": [1, "ü", None]}))
        assert await recv_json(ws) == {"echo": {"a": [1, "ü", None]}}
        for bad in ["not json", "[1, 2]", "", '{"a": NaN}', "[" * 200_000]:
            await ws.send(bad)
            await recv_error(ws)
        await ws.send(b'{"binary": true}')
        await recv_error(ws)
        await ws.send("{}")
        assert await recv_json(ws) == {"echo": {}}


@hostile("a frame of 1 MiB to any endpoint",
         "the server drops the connection (1009); a new connection works")
@pytest.mark.parametrize("path", [*TEXT_ECHOES, "/ws/jwc/", "/ws/ajwc/lobby/"])
async def test_an_oversized_frame_is_dropped_by_the_server_and_it_keeps_serving(
    lesson_server, path
):
    async with open_socket(lesson_server, path) as ws:
        # Daphne's 1 MiB limit: the frame never reaches the consumer, the connection is closed,
        # maybe while the frame is still being sent.
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.send("x" * (1024 * 1024))
            await recv(ws)
        assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
    async with open_socket(lesson_server, "/ws/awsc/") as ws:
        await ws.send("next connection")
        assert await recv(ws) == "next connection"


@pytest.mark.parametrize("chat", CHATS)
async def test_room_chat_through_the_real_server(lesson_server, chat):
    room, other_room = new_room(), new_room()
    async with (
        open_socket(lesson_server, f"{chat}{room}/") as sender,
        open_socket(lesson_server, f"{chat}{room}/") as listener,
        open_socket(lesson_server, f"{chat}{other_room}/") as elsewhere,
    ):
        await sender.send('{"message": "hello room"}')
        assert await recv_json(sender) == {"message": "hello room"}
        assert await recv_json(listener) == {"message": "hello room"}
        # Errors go to the sender only.
        await sender.send('{"message": "   "}')
        assert "empty" in await recv_error(sender)
        await sender.send("not json")
        assert (await recv_error(sender)).startswith("the frame is not JSON")
        await sender.send(b"binary")
        await recv_error(sender)
        # The next frame each one gets is this: no error leaked, nothing crossed rooms.
        await elsewhere.send('{"message": "other room"}')
        assert await recv_json(elsewhere) == {"message": "other room"}
        await listener.send('{"message": "after the errors"}')
        assert await recv_json(listener) == {"message": "after the errors"}
        assert await recv_json(sender) == {"message": "after the errors"}


async def test_sync_and_async_chat_share_rooms_through_the_real_server(lesson_server):
    room = new_room()
    async with (
        open_socket(lesson_server, f"/ws/ajwc/{room}/") as async_ws,
        open_socket(lesson_server, f"/ws/jwc/{room}/") as sync_ws,
    ):
        await sync_ws.send('{"message": "from the sync consumer"}')
        assert await recv_json(async_ws) == {"message": "from the sync consumer"}
        assert await recv_json(sync_ws) == {"message": "from the sync consumer"}


async def test_many_sockets_in_one_room_each_get_every_message(lesson_server):
    room = new_room()
    sockets = [await open_socket(lesson_server, f"{CHATS[n % 2]}{room}/").__aenter__()
               for n in range(10)]
    try:
        for n, ws in enumerate(sockets):
            await ws.send(json.dumps({"message": f"from {n}"}))
        for ws in sockets:
            got = [(await recv_json(ws))["message"] for _ in sockets]
            assert sorted(got) == sorted(f"from {n}" for n in range(10))
    finally:
        for ws in sockets:
            await ws.close()


async def test_rooms_span_server_processes_through_redis(start_server, redis_url):
    prefix = f"gs7-e2e-{uuid.uuid4().hex}"
    env = {"REDIS_URL": redis_url, "CHANNEL_LAYER_PREFIX": prefix}
    # The sockets never touch the database: no migrate step before the servers.
    first, second = start_server(env=env, migrate=False), start_server(env=env, migrate=False)
    room = new_room()
    try:
        async with (
            open_socket(first, f"/ws/ajwc/{room}/") as on_first,
            open_socket(second, f"/ws/jwc/{room}/") as on_second,
        ):
            await on_first.send('{"message": "across processes"}')
            assert await recv_json(on_second) == {"message": "across processes"}
            assert await recv_json(on_first) == {"message": "across processes"}
    finally:
        async with redis.from_url(redis_url) as client:
            keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
            if keys:
                await client.delete(*keys)


@hostile("a handshake from a foreign or a look-alike origin: `http://evil.example`, "
         "`http://localhost.evil.example`, `http://localhost.evil.test:PORT`",
         "refused at the handshake (403)")
@pytest.mark.parametrize("path", ["/ws/wsc/", "/ws/awsc/", "/ws/jwc/", "/ws/ajwc/lobby/"])
@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "http://localhost.evil.example", "http://localhost.evil.test:{port}"],
)
async def test_a_foreign_origin_is_refused_at_the_handshake(lesson_server, path, origin):
    origin = origin.format(port=lesson_server.port)
    assert await assert_refused(lesson_server, path, origin) == 403


@hostile("a handshake without an `Origin` header (any script)", "refused at the handshake (403)")
async def test_a_socket_without_origin_is_refused(lesson_server):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with asyncio.timeout(3):
            await websockets.connect(lesson_server.ws("/ws/wsc/"))
    assert refused.value.response.status_code == 403


async def test_localhost_origin_is_allowed(lesson_server):
    origin = lesson_server.origin.replace("127.0.0.1", "localhost")
    async with open_socket(lesson_server, "/ws/wsc/", origin) as ws:
        await ws.send("from localhost")
        assert await recv(ws) == "from localhost"


@hostile("a room name with a space, unicode, a dot, a newline, 51 characters, a slash",
         "refused at the handshake (an HTTP error, within 3 seconds)")
@pytest.mark.parametrize("chat", CHATS)
@pytest.mark.parametrize("room", ["bad%20name", "caf%C3%A9", "a.b", "room%0A", "x" * 51, "a/b"])
async def test_an_invalid_room_name_is_refused_at_the_handshake(lesson_server, chat, room):
    assert await assert_refused(lesson_server, f"{chat}{room}/") >= 400


@hostile("a path no route matches", "refused at the handshake; the server keeps serving")
async def test_an_unknown_path_is_refused_and_the_server_keeps_serving(lesson_server):
    assert await assert_refused(lesson_server, "/ws/nope/") >= 400
    async with open_socket(lesson_server, "/ws/ajwc/lobby/") as ws:
        await ws.send('{"message": "still here"}')
        assert await recv_json(ws) == {"message": "still here"}


@hostile("a frame of 64 KiB to a room over a real socket: valid JSON, its message far too long",
         "`{\"error\": ...}` to the sender only; the socket stays open")
@pytest.mark.parametrize("chat", CHATS)
async def test_a_frame_of_64_kib_gets_an_error_through_the_real_server(lesson_server, chat):
    async with open_socket(lesson_server, f"{chat}{new_room()}/") as ws:
        await ws.send(json.dumps({"message": "x" * 65536}))
        assert "65536 characters" in await recv_error(ws)
        await ws.send('{"message": "still open"}')
        assert await recv_json(ws) == {"message": "still open"}


@hostile("a flood: one socket sends 300 messages to a room as fast as it can",
         "the first ones (a burst of 30) reach the room, the rest get `{\"error\": ...}`, then "
         "the server closes the socket with 4029; the others are served throughout")
@pytest.mark.parametrize("chat", CHATS)
async def test_a_flood_is_cut_off_and_everyone_else_is_served(lesson_server, chat):
    room = new_room()
    async with (
        open_socket(lesson_server, f"{chat}{room}/") as flooder,
        open_socket(lesson_server, f"{chat}{room}/") as listener,
    ):
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
        # The room heard exactly what was sent, and the listener is still served.
        assert [(await recv_json(listener))["message"] for _ in sent] == sent
        await listener.send('{"message": "still here"}')
        assert await recv_json(listener) == {"message": "still here"}


def test_browser_page_talks_to_the_json_echo_and_a_room(lesson_server, browser):
    browser.get(lesson_server.url + "/")
    wait = WebDriverWait(browser, 10)

    def panel(path):
        return browser.find_element(By.CSS_SELECTOR, f'section[data-path="{path}"]')

    def send(section, text):
        box = section.find_element(By.CLASS_NAME, "message")
        box.clear()
        box.send_keys(text)
        section.find_element(By.CLASS_NAME, "send").click()

    def connect(section, room=None):
        if room:
            section.find_element(By.CLASS_NAME, "room").clear()
            section.find_element(By.CLASS_NAME, "room").send_keys(room)
        section.find_element(By.CLASS_NAME, "connect").click()
        wait.until(lambda _: section.find_element(By.CLASS_NAME, "state").text == "open")

    def log(section):
        return section.find_element(By.CLASS_NAME, "log").get_property("value")

    jwc = panel("/ws/jwc/")
    connect(jwc)
    send(jwc, "not json")
    wait.until(lambda _: '< {"error": "the frame is not JSON:' in log(jwc))
    send(jwc, '{"still": "open"}')
    wait.until(lambda _: '< {"echo": {"still": "open"}}' in log(jwc))

    room = new_room()
    async_room, sync_room = panel("/ws/ajwc/ROOM/"), panel("/ws/jwc/ROOM/")
    connect(async_room, room)
    connect(sync_room, room)
    send(async_room, '{"message": "<b>not bold</b>"}')
    # Shown as text, in both panels: the async consumer's room is the sync consumer's room.
    for section in (async_room, sync_room):
        wait.until(lambda _, s=section: '< {"message": "<b>not bold</b>"}' in log(s))
    assert browser.find_elements(By.CSS_SELECTOR, "section b") == []
