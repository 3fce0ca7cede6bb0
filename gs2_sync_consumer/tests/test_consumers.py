"""MySyncConsumer in process, through the project's real router, with WebsocketCommunicator."""

import asyncio
import itertools
from types import SimpleNamespace

import pytest
from channels.testing import WebsocketCommunicator

from app import consumers
from app.consumers import MySyncConsumer
from gs2.asgi import application

PATH = "/ws/sc/"
hostile = pytest.mark.hostile
ERROR = 'an `{"error": ...}` saying what is wrong; the socket stays open and streams'


async def connected(app=application):
    communicator = WebsocketCommunicator(app, PATH)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def receive_stream(communicator):
    """Every frame up to and including {"done": true}."""
    frames = []
    while not frames or frames[-1] != {"done": True}:
        frames.append(await communicator.receive_json_from())
    return frames


def counted(count):
    return [{"n": n} for n in range(1, count + 1)] + [{"done": True}]


@pytest.mark.parametrize("count", [1, 100])
async def test_count_streams_n_frames_in_order_then_done(count):
    communicator = await connected()
    await communicator.send_json_to({"count": count, "interval": 0, "extra": "keys are fine"})
    assert await receive_stream(communicator) == counted(count)
    assert await communicator.receive_nothing()
    await communicator.disconnect()


async def test_each_frame_waits_one_interval_and_the_default_is_a_tenth(monkeypatch):
    # Record the sleeps instead of sleeping: the test checks the intervals, not the clock.
    sleeps = []
    monkeypatch.setattr(consumers, "time", SimpleNamespace(sleep=sleeps.append))
    communicator = await connected()
    await communicator.send_json_to({"count": 3})
    assert await receive_stream(communicator) == counted(3)
    await communicator.send_json_to({"count": 2, "interval": 0.5})
    assert await receive_stream(communicator) == counted(2)
    assert sleeps == [0.1] * 3 + [0.5] * 2
    await communicator.disconnect()


async def test_close_makes_the_server_close_with_1000():
    communicator = await connected()
    await communicator.send_json_to({"close": True})
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 1000}
    await communicator.disconnect()


BAD = [
    pytest.param("not json", id="not-json", marks=hostile("text that is not JSON", ERROR)),
    pytest.param("", id="empty", marks=hostile("an empty text frame", ERROR)),
    pytest.param("[" * 100_000, id="deeply-nested",
                 marks=hostile("JSON nested 100 000 deep (`json.loads` raises RecursionError)",
                               ERROR)),
    pytest.param("[1, 2]", id="array",
                 marks=hostile("JSON that is not an object, `[1, 2]`", ERROR)),
    pytest.param("null", id="null"),
    pytest.param("{}", id="no-command"),
    pytest.param('{"type": "websocket.close", "code": 1000}', id="event-as-text",
                 marks=hostile('a server event written as text, `{"type": "websocket.close"}`',
                               ERROR)),
    pytest.param('{"count": 0}', id="count-0"),
    pytest.param('{"count": 101}', id="count-101"),
    pytest.param('{"count": true}', id="count-true",
                 marks=hostile('`{"count": true}` (in Python, `True` is an `int`)', ERROR)),
    pytest.param('{"count": 1.5}', id="count-fraction"),
    pytest.param('{"count": "3"}', id="count-string"),
    pytest.param('{"count": 3, "interval": 1.5}', id="interval-too-long"),
    pytest.param('{"count": 3, "interval": -1}', id="interval-negative"),
    pytest.param('{"count": 3, "interval": true}', id="interval-true"),
    pytest.param('{"count": 3, "interval": NaN}', id="interval-nan",
                 marks=hostile('`{"count": 3, "interval": NaN}` (Python\'s json reads NaN)',
                               ERROR)),
    pytest.param('{"close": false}', id="close-false"),
]


@pytest.mark.parametrize("text", BAD)
async def test_bad_text_gets_an_error_and_the_socket_stays_open(text):
    communicator = await connected()
    # send_to() refuses empty text, so send the raw ASGI event a server would.
    await communicator.send_input({"type": "websocket.receive", "text": text})
    answer = await communicator.receive_json_from()
    assert list(answer) == ["error"] and answer["error"]
    await assert_still_streams(communicator)
    await communicator.disconnect()


@hostile('a binary frame, `{"count": 3}` as bytes', ERROR)
async def test_a_binary_frame_gets_an_error_and_the_socket_stays_open():
    communicator = await connected()
    await communicator.send_to(bytes_data=b'{"count": 3}')
    assert "error" in await communicator.receive_json_from()
    await assert_still_streams(communicator)
    await communicator.disconnect()


async def assert_still_streams(communicator):
    await communicator.send_json_to({"count": 1, "interval": 0})
    assert await receive_stream(communicator) == counted(1)


async def test_close_sent_mid_stream_is_handled_after_the_whole_stream():
    communicator = await connected()
    await communicator.send_json_to({"count": 5, "interval": 0.01})
    assert await communicator.receive_json_from() == {"n": 1}
    await communicator.send_json_to({"close": True})
    # The handler is still in its loop: the close event waits in the queue until it returns.
    assert await receive_stream(communicator) == counted(5)[1:]
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 1000}
    await communicator.disconnect()


async def test_disconnect_stops_the_consumer():
    communicator = await connected()
    await communicator.disconnect()
    # disconnect() waits for the consumer to finish: StopConsumer ends it cleanly.
    assert communicator.future.done()
    assert communicator.future.exception() is None


async def test_without_stop_consumer_the_instance_outlives_its_socket():
    class Lingering(MySyncConsumer):
        def websocket_disconnect(self, event):
            pass  # no StopConsumer

    communicator = await connected(Lingering.as_asgi())
    await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
    # The socket is gone, yet the instance still reads its queue and answers.
    await assert_still_streams(communicator)
    assert not communicator.future.done()
    communicator.future.cancel()
    await asyncio.wait([communicator.future])


def recording(sent, label):
    """The project's application, noting (label, frame) for every frame its consumer sends."""

    async def app(scope, receive, send):
        async def send_and_record(message):
            if message["type"] == "websocket.send":
                sent.append((label, message["text"]))
            await send(message)

        return await application(scope, receive, send_and_record)

    return app


async def test_concurrent_streams_take_turns_on_the_one_sync_thread():
    sent = []
    sockets = [await connected(recording(sent, label)) for label in range(5)]
    # Five streams asked for at once...
    for socket in sockets:
        await socket.send_json_to({"count": 3, "interval": 0.01})
    for socket in sockets:
        assert await receive_stream(socket) == counted(3)
    # ...run one after the other: each stream's frames in one block, never interleaved.
    blocks = [label for label, _ in itertools.groupby(sent, key=lambda frame: frame[0])]
    assert sorted(blocks) == [0, 1, 2, 3, 4]
    for socket in sockets:
        await socket.disconnect()
