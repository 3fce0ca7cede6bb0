"""The lesson as a learner runs it: Daphne's runserver in its own process, real clients."""

import asyncio
import urllib.request

import pytest
import websockets
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ENDPOINTS = ["/ws/sc/", "/ws/ac/"]


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


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_daphne_never_sends_an_empty_text_frame(lesson_server, path):
    # The consumer echoes "" (see test_consumers.py), but Daphne skips empty replies.
    async with websockets.connect(lesson_server.ws(path)) as ws:
        await ws.send("")
        await ws.send("after the empty one")
        assert await ws.recv() == "after the empty one"


async def test_a_message_of_1_mib_is_dropped_by_the_server(lesson_server):
    async with websockets.connect(lesson_server.ws("/ws/sc/"), max_size=None) as ws:
        await ws.send("x" * (1024 * 1024 - 1))
        assert len(await ws.recv()) == 1024 * 1024 - 1
        await ws.send("x" * (1024 * 1024))
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
    async with websockets.connect(lesson_server.ws("/ws/sc/")) as ws:
        await ws.send("a new connection works")
        assert await ws.recv() == "a new connection works"


async def test_unknown_path_is_refused_at_the_handshake(lesson_server):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with asyncio.timeout(3):
            await websockets.connect(lesson_server.ws("/ws/nope/"))
    assert refused.value.response.status_code >= 400
    # The server survives it: the next connection works.
    async with websockets.connect(lesson_server.ws("/ws/sc/")) as ws:
        await ws.send("still here")
        assert await ws.recv() == "still here"


def test_browser_client_echoes_through_both_consumers(lesson_server, browser):
    browser.get(lesson_server.url + "/")
    for path in ENDPOINTS:
        panel = browser.find_element(By.CSS_SELECTOR, f'section[data-path="{path}"]')
        echo_in_the_page(panel, "<b>not bold</b>")


def echo_in_the_page(panel, text):
    wait = WebDriverWait(panel.parent, 10)
    log = panel.find_element(By.CLASS_NAME, "log")
    panel.find_element(By.CLASS_NAME, "connect").click()
    wait.until(lambda _: panel.find_element(By.CLASS_NAME, "state").text == "open")
    panel.find_element(By.CLASS_NAME, "message").send_keys(text)
    panel.find_element(By.CLASS_NAME, "send").click()
    # Shown as text: the markup arrives in the log as typed, not rendered.
    wait.until(lambda _: f"< {text}" in log.get_property("value"))
    panel.find_element(By.CLASS_NAME, "disconnect").click()
    wait.until(lambda _: "closed, code" in log.get_property("value"))
