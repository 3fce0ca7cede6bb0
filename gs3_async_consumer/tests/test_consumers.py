"""MyAsyncConsumer in process, through the project's real router, with WebsocketCommunicator."""

import asyncio

import pytest
from channels.testing import WebsocketCommunicator

from gs3.asgi import application

PATH = "/ws/ac/"
# Long enough to be still running whenever a test stops it; a stopped stream ends at once.
LONG = {"count": 100, "interval": 0.02}
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


async def receive_until(communicator, last):
    """Every frame up to and including `last`."""
    frames = []
    while not frames or frames[-1] != last:
        frames.append(await communicator.receive_json_from())
    return frames


def stream_tasks():
    """The stream tasks alive in this event loop, found by their coroutine."""
    return [task for task in asyncio.all_tasks()
            if task.get_coro().__qualname__ == "MyAsyncConsumer.stream"]


@pytest.mark.parametrize("count", [1, 100])
async def test_count_streams_n_frames_in_order_then_done(count):
    communicator = await connected()
    await communicator.send_json_to({"count": count, "interval": 0, "extra": "keys are fine"})
    assert await receive_stream(communicator) == counted(count)
    assert await communicator.receive_nothing()
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
    pytest.param('{"stop": false}', id="stop-false"),
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


async def test_disconnect_stops_the_consumer():
    communicator = await connected()
    await communicator.disconnect()
    # disconnect() waits for the consumer to finish: StopConsumer ends it cleanly.
    assert communicator.future.done()
    assert communicator.future.exception() is None


def recording(sent, label):
    """The project's application, noting (label, frame) for every frame its consumer sends."""

    async def app(scope, receive, send):
        async def send_and_record(message):
            if message["type"] == "websocket.send":
                sent.append((label, message["text"]))
            await send(message)

        return await application(scope, receive, send_and_record)

    return app


async def test_stop_ends_the_stream_and_no_frame_follows_stopped():
    communicator = await connected()
    await communicator.send_json_to(LONG)
    assert await communicator.receive_json_from() == {"n": 1}
    [task] = stream_tasks()
    await communicator.send_json_to({"stop": True})
    frames = await receive_until(communicator, {"stopped": True})
    # Maybe a frame or two went out before the stop was handled, in order; none after it.
    assert frames[:-1] == [{"n": n} for n in range(2, len(frames) + 1)]
    assert len(frames) < 100 and task.cancelled() and stream_tasks() == []
    assert await communicator.receive_nothing(timeout=0.1)
    # A new stream starts from 1.
    await communicator.send_json_to({"count": 2, "interval": 0})
    assert await receive_stream(communicator) == counted(2)
    await communicator.disconnect()


@hostile('`{"stop": true}` with no stream running', 'an `{"error": ...}`; the socket stays open')
async def test_stop_with_no_stream_running_is_an_error():
    communicator = await connected()
    await communicator.send_json_to({"stop": True})
    assert "error" in await communicator.receive_json_from()
    # Nor after a stream has finished.
    await assert_still_streams(communicator)
    await communicator.send_json_to({"stop": True})
    assert "error" in await communicator.receive_json_from()
    await communicator.disconnect()


@hostile('`{"count": N}` while a stream runs',
         'an `{"error": ...}`; the running stream goes on, not restarted or doubled')
async def test_count_while_a_stream_runs_is_an_error_and_the_stream_goes_on():
    communicator = await connected()
    await communicator.send_json_to(LONG)
    assert await communicator.receive_json_from() == {"n": 1}
    await communicator.send_json_to({"count": 3, "interval": 0})
    frames = await receive_until(communicator, {"n": 5})
    assert len([frame for frame in frames if "error" in frame]) == 1
    # The first stream counts on, 2, 3, 4, 5: not restarted, not joined by a second one.
    assert [frame for frame in frames if "n" in frame] == [{"n": n} for n in range(2, 6)]
    assert len(stream_tasks()) == 1
    await communicator.send_json_to({"stop": True})
    await receive_until(communicator, {"stopped": True})
    await communicator.disconnect()


async def test_close_mid_stream_stops_the_stream_then_closes_with_1000():
    communicator = await connected()
    await communicator.send_json_to(LONG)
    assert await communicator.receive_json_from() == {"n": 1}
    await communicator.send_json_to({"close": True})
    outputs = []
    while not outputs or outputs[-1]["type"] != "websocket.close":
        outputs.append(await communicator.receive_output())
    assert outputs[-1] == {"type": "websocket.close", "code": 1000}
    assert stream_tasks() == []
    await communicator.disconnect()


@hostile("a client that disconnects mid-stream",
         "the stream's task is cancelled and the consumer ends: nothing is left running")
async def test_disconnect_mid_stream_leaves_no_task_running():
    communicator = await connected()
    await communicator.send_json_to(LONG)
    assert await communicator.receive_json_from() == {"n": 1}
    [task] = stream_tasks()
    await communicator.disconnect()
    assert task.cancelled() and stream_tasks() == []
    assert communicator.future.done() and communicator.future.exception() is None


async def test_many_concurrent_streams_run_side_by_side_and_all_finish():
    sent = []
    sockets = [await connected(recording(sent, label)) for label in range(20)]
    for socket in sockets:
        await socket.send_json_to({"count": 10, "interval": 0.02})
    for socket in sockets:
        assert await receive_stream(socket) == counted(10)
    # Every stream had begun before any had ended: they ran at the same time.
    labels = [label for label, _ in sent]
    first_frames = [labels.index(label) for label in range(20)]
    last_frames = [len(labels) - 1 - labels[::-1].index(label) for label in range(20)]
    assert max(first_frames) < min(last_frames)
    assert stream_tasks() == []
    for socket in sockets:
        await socket.disconnect()


async def test_a_sync_stream_holds_up_async_events_but_not_a_running_async_stream():
    sent = []
    sync = WebsocketCommunicator(recording(sent, "sync"), "/ws/sc/")
    assert (await sync.connect())[0]
    running = await connected(recording(sent, "async"))
    await running.send_json_to(LONG)
    assert await running.receive_json_from() == {"n": 1}
    # gs2's stream holds the one sync thread for its whole loop...
    await sync.send_json_to({"count": 10, "interval": 0.05})
    assert await sync.receive_json_from() == {"n": 1}
    await running.send_json_to({"stop": True})
    await receive_until(running, {"stopped": True})
    assert await receive_stream(sync) == counted(10)[1:]
    order = [(label, frame) for label, frame in sent if label == "sync" or "n" not in frame]
    # ...so the stop is handled only after it: Channels runs close_old_connections on that
    # thread before every AsyncConsumer handler. The running task did not wait: its frames
    # went on between the sync stream's.
    assert order[-2:] == [("sync", '{"done": true}'), ("async", '{"stopped": true}')]
    labels = [label for label, _ in sent]
    assert "async" in labels[labels.index("sync"):labels.index("sync") + 10]
    await sync.disconnect()
    await running.disconnect()
