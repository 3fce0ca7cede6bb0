"""The three echoes in-process, through the project's real application (origin check included)."""

import json

import pytest
from clients import connect

from echo.consumers import OBJECT_ERROR, TEXT_ERROR

hostile = pytest.mark.hostile
TEXT_ECHOES = ["/ws/wsc/", "/ws/awsc/"]


@pytest.mark.parametrize("path", TEXT_ECHOES)
async def test_text_frames_come_back_unchanged_and_in_order(path):
    ws = await connect(path)
    frames = ["hello", "<b>not HTML</b>", "é ✓ 😀", '{"json": "is text here"}', "x" * 100_000]
    for frame in frames:
        await ws.send_to(text_data=frame)
    assert [await ws.receive_from() for _ in frames] == frames
    await ws.disconnect()


@hostile("a binary or an empty frame to a text echo", '{"error": ...}, the socket stays open')
@pytest.mark.parametrize("path", TEXT_ECHOES)
async def test_binary_and_empty_frames_get_an_error_and_the_socket_stays_open(path):
    ws = await connect(path)
    await ws.send_to(bytes_data=b"\x00\xffhello")
    assert await ws.receive_json_from() == {"error": TEXT_ERROR}
    # An empty text frame: Daphne would not send an empty echo back, so it is an error too.
    await ws.send_input({"type": "websocket.receive", "text": ""})
    assert await ws.receive_json_from() == {"error": TEXT_ERROR}
    await ws.send_to(text_data="still here")
    assert await ws.receive_from() == "still here"
    await ws.disconnect()


async def test_a_json_object_comes_back_as_echo():
    ws = await connect("/ws/jwc/")
    for content in [{"hello": [1, 2, 3]}, {}, {"nested": {"a": None, "b": True, "c": "é"}}]:
        await ws.send_json_to(content)
        assert await ws.receive_json_from() == {"echo": content}
    await ws.disconnect()


@hostile("bad JSON, a non-object, a binary frame to the JSON echo",
         '{"error": ...}, the socket stays open')
async def test_anything_but_a_json_object_gets_an_error_and_the_socket_stays_open():
    ws = await connect("/ws/jwc/")
    bad = ["not json", "", "[1, 2]", "null", "42", '"text"', "true", "{'single': 1}",
           "[" * 100_000]  # nested too deep for Python's json: RecursionError, not ValueError
    for frame in bad:
        await ws.send_input({"type": "websocket.receive", "text": frame})
        assert await ws.receive_json_from() == {"error": OBJECT_ERROR}, frame[:20]
    await ws.send_to(bytes_data=json.dumps({"a": 1}).encode())
    assert await ws.receive_json_from() == {"error": OBJECT_ERROR}
    await ws.send_json_to({"a": 1})
    assert await ws.receive_json_from() == {"echo": {"a": 1}}
    await ws.disconnect()
