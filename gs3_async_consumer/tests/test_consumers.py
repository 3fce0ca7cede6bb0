"""The AsyncConsumer in-process, through the project's real router, with WebsocketCommunicator."""

import asyncio
from types import SimpleNamespace

import pytest
from bad_input import BAD_BYTES, BAD_TEXT, BINARY_ERROR
from channels.exceptions import StopConsumer
from channels.testing import WebsocketCommunicator

from gs3.asgi import application
from stream import consumers
from stream.consumers import StreamAsyncConsumer
from stream.protocol import DEFAULT_INTERVAL

PATH = "/ws/ac/"
# Long enough that it is always still running when a test stops it; a stopped stream is quick.
LONG = {"count": 100, "interval": 0.02}


async def connected(app=application):
    communicator = WebsocketCommunicator(app, PATH)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def receive_until(communicator, last):
    """Every frame up to and including `last`."""
    frames = []
    while not frames or frames[-1] != last:
        frames.append(await communicator.receive_json_from())
    return frames


def counted(count):
    return [{"n": n} for n in range(1, count + 1)] + [{"done": True}]


def stream_tasks():
    """The stream tasks alive in this event loop, found by their coroutine."""
    return [task for task in asyncio.all_tasks()
            if task.get_coro().__qualname__ == "StreamAsyncConsumer.stream"]


@pytest.mark.parametrize("count", [1, 3, 100])
async def test_count_streams_n_frames_in_order_then_done(count):
    communicator = await connected()
    await communicator.send_json_to({"count": count, "interval": 0})
    assert await receive_until(communicator, {"done": True}) == counted(count)
    assert await communicator.receive_nothing()
    assert stream_tasks() == []
    await communicator.disconnect()


async def test_each_frame_waits_one_interval_and_the_default_is_a_tenth(monkeypatch):
    # Record the sleeps and skip the waiting: the test checks the intervals, not the clock.
    sleeps = []

    async def sleep(delay):
        sleeps.append(delay)

    fake = SimpleNamespace(sleep=sleep, create_task=asyncio.create_task, wait=asyncio.wait)
    monkeypatch.setattr(consumers, "asyncio", fake)
    communicator = await connected()
    await communicator.send_json_to({"count": 3})
    assert await receive_until(communicator, {"done": True}) == counted(3)
    await communicator.send_json_to({"count": 2, "interval": 0.5})
    assert await receive_until(communicator, {"done": True}) == counted(2)
    assert sleeps == [DEFAULT_INTERVAL] * 3 + [0.5] * 2
    assert DEFAULT_INTERVAL == 0.1
    await communicator.disconnect()


async def test_extra_keys_are_allowed():
    communicator = await connected()
    await communicator.send_json_to({"count": 2, "interval": 0, "note": "extra keys are fine"})
    assert await receive_until(communicator, {"done": True}) == counted(2)
    await communicator.disconnect()


async def test_close_makes_the_server_close_with_1000():
    communicator = await connected()
    await communicator.send_json_to({"close": True})
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 1000}
    await communicator.disconnect()


async def test_close_mid_stream_stops_the_stream_and_closes_with_1000():
    communicator = await connected()
    await communicator.send_json_to(LONG)
    assert await communicator.receive_json_from() == {"n": 1}
    await communicator.send_json_to({"close": True})
    outputs = []
    while not outputs or outputs[-1]["type"] != "websocket.close":
        outputs.append(await communicator.receive_output())
    assert outputs[-1] == {"type": "websocket.close", "code": 1000}
    # At most a frame or two got out before the close was handled, and never "done".
    assert all(output["type"] == "websocket.send" for output in outputs[:-1])
    assert len(outputs) < 10
    assert stream_tasks() == []
    await communicator.disconnect()


@pytest.mark.parametrize(("text", "reason"), BAD_TEXT)
async def test_bad_text_gets_an_error_and_the_socket_stays_open(text, reason):
    communicator = await connected()
    # send_to() refuses empty text, so send the raw ASGI event a server would.
    await communicator.send_input({"type": "websocket.receive", "text": text})
    answer = await communicator.receive_json_from()
    assert list(answer) == ["error"]
    assert reason in answer["error"]
    await assert_still_streams(communicator)
    await communicator.disconnect()


@pytest.mark.parametrize("data", BAD_BYTES)
async def test_binary_frames_get_an_error_and_the_socket_stays_open(data):
    communicator = await connected()
    await communicator.send_input({"type": "websocket.receive", "bytes": data})
    answer = await communicator.receive_json_from()
    assert BINARY_ERROR in answer["error"]
    await assert_still_streams(communicator)
    await communicator.disconnect()


async def assert_still_streams(communicator):
    await communicator.send_json_to({"count": 1, "interval": 0})
    assert await receive_until(communicator, {"done": True}) == counted(1)


async def test_stop_ends_the_stream_early_and_no_frame_follows_stopped():
    communicator = await connected()
    await communicator.send_json_to(LONG)
    assert await communicator.receive_json_from() == {"n": 1}
    [task] = stream_tasks()
    await communicator.send_json_to({"stop": True})
    frames = await receive_until(communicator, {"stopped": True})
    # Maybe a frame or two before the stop was handled, in order; none after it.
    assert frames[:-1] == [{"n": n} for n in range(2, len(frames) + 1)]
    assert task.cancelled()
    assert stream_tasks() == []
    assert await communicator.receive_nothing(timeout=0.1)
    # A new stream starts from 1.
    await communicator.send_json_to({"count": 2, "interval": 0})
    assert await receive_until(communicator, {"done": True}) == counted(2)
    await communicator.disconnect()


@pytest.mark.hostile('`{"stop": true}` with no stream running',
                     'an `{"error": ...}`; the socket stays open')
async def test_stop_with_no_stream_running_is_an_error():
    communicator = await connected()
    await communicator.send_json_to({"stop": True})
    assert "no stream is running" in (await communicator.receive_json_from())["error"]
    # Nor after a stream has finished.
    await communicator.send_json_to({"count": 1, "interval": 0})
    assert await receive_until(communicator, {"done": True}) == counted(1)
    await communicator.send_json_to({"stop": True})
    assert "no stream is running" in (await communicator.receive_json_from())["error"]
    await communicator.disconnect()


@pytest.mark.hostile('`{"count": N}` while a stream runs',
                     'an `{"error": ...}`; the running stream goes on, not restarted or doubled')
async def test_count_while_a_stream_runs_is_an_error_and_the_stream_goes_on():
    communicator = await connected()
    await communicator.send_json_to(LONG)
    assert await communicator.receive_json_from() == {"n": 1}
    await communicator.send_json_to({"count": 3, "interval": 0})
    frames = await receive_until(communicator, {"n": 5})
    errors = [frame for frame in frames if "error" in frame]
    assert len(errors) == 1 and "a stream is already running" in errors[0]["error"]
    # The first stream counts on, 2, 3, 4, 5: not restarted, not replaced by the second.
    assert [frame for frame in frames if "n" in frame] == [{"n": n} for n in range(2, 6)]
    assert len(stream_tasks()) == 1
    await communicator.send_json_to({"stop": True})
    await receive_until(communicator, {"stopped": True})
    await communicator.disconnect()


@pytest.mark.hostile("a client that disconnects mid-stream",
                     "the stream's task is cancelled and the consumer ends: nothing leaks")
async def test_disconnect_mid_stream_cancels_the_task():
    communicator = await connected()
    await communicator.send_json_to(LONG)
    assert await communicator.receive_json_from() == {"n": 1}
    [task] = stream_tasks()
    await communicator.disconnect()
    assert task.cancelled()
    assert stream_tasks() == []
    # And the consumer itself finished cleanly with StopConsumer.
    assert communicator.future.done() and communicator.future.exception() is None


async def test_without_the_cancel_the_task_outlives_its_socket():
    class Leaky(StreamAsyncConsumer):
        async def websocket_disconnect(self, event):
            raise StopConsumer()  # no cancel_stream()

    communicator = await connected(Leaky.as_asgi())
    await communicator.send_json_to(LONG)
    assert await communicator.receive_json_from() == {"n": 1}
    await communicator.disconnect()
    assert communicator.future.done()
    # The consumer is gone, its stream is not: it would count to 100 into a closed socket.
    [task] = stream_tasks()
    assert not task.done()
    task.cancel()
    await asyncio.wait([task])


async def test_disconnect_with_no_stream_stops_the_consumer():
    communicator = await connected()
    await communicator.disconnect()
    assert communicator.future.done()
    assert communicator.future.exception() is None


async def test_two_streams_run_at_once_on_one_event_loop():
    # Record every frame the consumers send, in the order the server would send them.
    sent = []

    def recording(label):
        async def app(scope, receive, send):
            async def send_and_record(message):
                if message["type"] == "websocket.send":
                    sent.append((label, message["text"]))
                await send(message)

            return await application(scope, receive, send_and_record)

        return app

    first = await connected(recording("first"))
    await first.send_json_to(LONG)
    assert await first.receive_json_from() == {"n": 1}
    # A second socket streams while the first one runs...
    second = await connected(recording("second"))
    await second.send_json_to({"count": 3, "interval": 0.01})
    assert await receive_until(second, {"done": True}) == counted(3)
    # ...and the first is still counting after the second has finished.
    finished = len(sent)
    while "first" not in [label for label, _ in sent[finished:]]:
        await first.receive_json_from()
    await first.send_json_to({"stop": True})
    await receive_until(first, {"stopped": True})

    labels = [label for label, _ in sent]
    first_of_second = labels.index("second")
    last_of_second = len(labels) - 1 - labels[::-1].index("second")
    assert "first" in labels[:first_of_second]
    assert "first" in labels[last_of_second + 1:]
    assert stream_tasks() == []
    await first.disconnect()
    await second.disconnect()


@pytest.mark.hostile("a path no route matches (`/ws/nope/`), in process",
                     "URLRouter raises `ValueError: No route found for path`")
async def test_unknown_path_has_no_route():
    communicator = WebsocketCommunicator(application, "/ws/nope/")
    with pytest.raises(ValueError, match="No route found for path 'ws/nope/'"):
        await communicator.connect()
