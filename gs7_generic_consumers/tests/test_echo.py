"""The three echo consumers in-process, through the project's real application."""

import json

import channels.consumer
import pytest
from channels.consumer import AsyncConsumer
from channels.generic.websocket import JsonWebsocketConsumer
from channels.testing import WebsocketCommunicator

from demo.consumers import (
    BINARY_ERROR,
    BINARY_JSON_ERROR,
    EMPTY_ERROR,
    EMPTY_JSON_ERROR,
    AsyncEchoConsumer,
)

hostile = pytest.mark.hostile

TEXT_ECHOES = ["/ws/wsc/", "/ws/awsc/"]
FRAMES = ["hello", "ünïcödé ✓", '{"json": "stays text"}', "<b>not bold</b>", "x" * 100_000]


async def receive_error(communicator):
    """The next frame, which must be exactly {"error": <a non-empty string>}."""
    frame = json.loads(await communicator.receive_from())
    assert list(frame) == ["error"] and isinstance(frame["error"], str) and frame["error"]
    return frame["error"]


@pytest.mark.parametrize("path", TEXT_ECHOES)
async def test_text_frames_come_back_unchanged_and_in_order(connect, path):
    communicator = await connect(path)
    for text in FRAMES:
        await communicator.send_to(text_data=text)
    assert [await communicator.receive_from() for _ in FRAMES] == FRAMES
    assert await communicator.receive_nothing()


@hostile("an empty text frame to an echo", "`{\"error\": ...}`; the socket stays open")
@pytest.mark.parametrize("path", TEXT_ECHOES)
async def test_an_empty_text_frame_gets_an_error_and_the_socket_stays_open(connect, path):
    communicator = await connect(path)
    # send_to() refuses empty text, so send the raw ASGI event a server would.
    await communicator.send_input({"type": "websocket.receive", "text": ""})
    assert await receive_error(communicator) == EMPTY_ERROR
    await communicator.send_to(text_data="after empty")
    assert await communicator.receive_from() == "after empty"


@hostile("a binary frame to an echo", "`{\"error\": ...}`; the socket stays open")
@pytest.mark.parametrize("path", [*TEXT_ECHOES, "/ws/jwc/"])
@pytest.mark.parametrize("payload", [b"\x00\xffraw", b""], ids=["bytes", "empty"])
async def test_a_binary_frame_gets_an_error_and_the_socket_stays_open(connect, path, payload):
    communicator = await connect(path)
    await communicator.send_input({"type": "websocket.receive", "bytes": payload})
    expected_error = BINARY_JSON_ERROR if path == "/ws/jwc/" else BINARY_ERROR
    assert await receive_error(communicator) == expected_error
    # Still open, still working.
    await communicator.send_to(text_data='{"after": "binary"}')
    reply = await communicator.receive_from()
    expected = {"echo": {"after": "binary"}} if path == "/ws/jwc/" else {"after": "binary"}
    assert json.loads(reply) == expected


async def test_a_json_object_comes_back_as_echo(connect):
    communicator = await connect("/ws/jwc/")
    objects = [{}, {"a": 1}, {"nested": {"list": [1, 2.5, None, True, "ü"]}}, {"<b>": "</b>"}]
    for content in objects:
        await communicator.send_json_to(content)
        assert await communicator.receive_json_from() == {"echo": content}


@hostile("malformed JSON to the JSON echo: words, single quotes, unclosed, trailing text, "
         "`NaN`, `Infinity`, a 5000-digit number, nesting 100,000 deep",
         "`{\"error\": \"the frame is not JSON: ...\"}`; the socket stays open")
@pytest.mark.parametrize(
    "text",
    ["not json", "{'single': 'quotes'}", '{"a": 1', '{"a": 1} trailing', '{"a": NaN}',
     '{"big": Infinity}', '{"n": ' + "1" * 5000 + "}", "[" * 100_000 + "]" * 100_000],
    ids=["words", "single-quotes", "unclosed", "trailing", "nan", "infinity", "huge-int",
         "too-deep"],
)
async def test_invalid_json_gets_an_error_and_the_socket_stays_open(connect, text):
    communicator = await connect("/ws/jwc/")
    await communicator.send_to(text_data=text)
    assert (await receive_error(communicator)).startswith("the frame is not JSON: ")
    await communicator.send_json_to({"still": "open"})
    assert await communicator.receive_json_from() == {"echo": {"still": "open"}}


@hostile("JSON that is not an object to the JSON echo: an array, a string, a number, "
         "`true`, `null`", "`{\"error\": \"send a JSON object, not ...\"}`; the socket stays open")
@pytest.mark.parametrize(
    ("text", "kind"),
    [("[1, 2]", "an array"), ('"text"', "a string"), ("42", "a number"), ("-1.5e3", "a number"),
     ("true", "true or false"), ("null", "null")],
)
async def test_json_that_is_not_an_object_gets_an_error(connect, text, kind):
    communicator = await connect("/ws/jwc/")
    await communicator.send_to(text_data=text)
    assert await receive_error(communicator) == f"send a JSON object, not {kind}"
    await communicator.send_json_to({"still": "open"})
    assert await communicator.receive_json_from() == {"echo": {"still": "open"}}


@hostile("an empty text frame to the JSON echo", "`{\"error\": ...}`; the socket stays open")
async def test_an_empty_frame_to_the_json_consumer_gets_an_error(connect):
    communicator = await connect("/ws/jwc/")
    await communicator.send_input({"type": "websocket.receive", "text": ""})
    assert await receive_error(communicator) == EMPTY_JSON_ERROR
    await communicator.send_json_to({"still": "open"})
    assert await communicator.receive_json_from() == {"echo": {"still": "open"}}


@hostile("JSON nested 950 to 1000 deep, around Python's recursion limit",
         "echoed, or `{\"error\": ...}`; never a crash")
async def test_json_nested_near_the_limit_is_echoed_or_refused_never_a_crash(connect):
    communicator = await connect("/ws/jwc/")
    for depth in range(950, 1001):
        await communicator.send_to(text_data='{"a": ' * depth + "1" + "}" * depth)
        # Compared as text: this deep, even the test's own json.loads may hit the recursion limit.
        reply = await communicator.receive_from()
        # Where the limit falls depends on the Python version; either answer is fine.
        if not reply.startswith('{"error": '):
            assert reply == '{"echo": ' + '{"a": ' * depth + "1" + "}" * (depth + 1)


class PlainJsonConsumer(JsonWebsocketConsumer):
    """JsonWebsocketConsumer with nothing overridden but receive_json: the library's default."""

    def receive_json(self, content, **kwargs):
        self.send_json({"echo": content})


@pytest.mark.parametrize("text", ["not json", ""])
async def test_without_the_override_one_bad_frame_kills_the_consumer(text):
    # Why SafeJsonWebsocketConsumer exists: the base receive() raises, and the consumer is gone.
    communicator = WebsocketCommunicator(PlainJsonConsumer.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_input({"type": "websocket.receive", "text": text})
    with pytest.raises(ValueError):  # json.JSONDecodeError, or "No text section" for ""
        await communicator.receive_output()
    assert communicator.future.done()


@pytest.mark.parametrize("path", [*TEXT_ECHOES, "/ws/jwc/"])
async def test_disconnect_finishes_the_consumer_cleanly(connect, path):
    communicator = await connect(path)
    await communicator.disconnect()
    assert communicator.future.done() and communicator.future.exception() is None


async def test_each_socket_gets_only_its_own_frames(connect):
    first, second = await connect("/ws/awsc/"), await connect("/ws/awsc/")
    await first.send_to(text_data="to first")
    assert await first.receive_from() == "to first"
    assert await second.receive_nothing()



class StockAsyncEchoConsumer(AsyncEchoConsumer):
    """The lesson's async echo with Channels' own dispatch(), for comparison."""

    dispatch = AsyncConsumer.dispatch


@pytest.mark.parametrize(("app", "trips"), [("lesson", 0), ("stock", 3)])
async def test_the_async_echo_skips_channels_database_cleanup_trip(connect, monkeypatch,
                                                                   app, trips):
    calls = []

    async def counted():
        calls.append(1)

    # What AsyncConsumer.dispatch awaits before every handler: NoDatabaseMixin skips it.
    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    if app == "lesson":
        communicator = await connect("/ws/awsc/")
    else:
        communicator = WebsocketCommunicator(StockAsyncEchoConsumer.as_asgi(), "/ws/awsc/")
        assert (await communicator.connect())[0]
    for text in ("one", "two"):
        await communicator.send_to(text_data=text)
        assert await communicator.receive_from() == text
    # websocket.connect and two websocket.receive: one trip each through Channels' dispatch.
    assert len(calls) == trips
    await communicator.disconnect()


async def test_the_async_chat_skips_the_trip_too(channel_layer, connect, monkeypatch):
    calls = []

    async def counted():
        calls.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    communicator = await connect("/ws/ajwc/lobby/")
    await communicator.send_json_to({"message": "hello"})
    assert (await communicator.receive_json_from())["message"] == "hello"
    assert calls == []
