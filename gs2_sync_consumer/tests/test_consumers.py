"""The SyncConsumer in-process, through the project's real router, with WebsocketCommunicator."""

import asyncio
import json
import threading
from types import SimpleNamespace

import pytest
from bad_input import BAD_BYTES, BAD_TEXT, BINARY_ERROR
from channels.testing import WebsocketCommunicator

from gs2.asgi import application
from stream import consumers
from stream.consumers import StreamSyncConsumer
from stream.protocol import DEFAULT_INTERVAL

PATH = "/ws/sc/"


async def connected():
    communicator = WebsocketCommunicator(application, PATH)
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


@pytest.mark.parametrize("count", [1, 3, 100])
async def test_count_streams_n_frames_in_order_then_done(count):
    communicator = await connected()
    await communicator.send_json_to({"count": count, "interval": 0})
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
    assert sleeps == [DEFAULT_INTERVAL] * 3 + [0.5] * 2
    assert DEFAULT_INTERVAL == 0.1
    await communicator.disconnect()


async def test_extra_keys_are_allowed():
    communicator = await connected()
    await communicator.send_json_to({"count": 2, "interval": 0, "note": "extra keys are fine"})
    assert await receive_stream(communicator) == counted(2)
    await communicator.disconnect()


async def test_close_makes_the_server_close_with_1000():
    communicator = await connected()
    await communicator.send_json_to({"close": True})
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 1000}
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
    assert await receive_stream(communicator) == counted(1)


async def test_disconnect_stops_the_consumer():
    communicator = await connected()
    await communicator.disconnect()
    # disconnect() waits for the consumer to finish: StopConsumer ends it cleanly.
    assert communicator.future.done()
    assert communicator.future.exception() is None


async def test_without_stop_consumer_the_instance_outlives_its_socket():
    class Lingering(StreamSyncConsumer):
        def websocket_disconnect(self, event):
            pass  # no StopConsumer

    communicator = WebsocketCommunicator(Lingering.as_asgi(), PATH)
    await communicator.connect()
    await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
    # The socket is gone, yet the instance still reads its queue and answers.
    await communicator.send_json_to({"count": 1, "interval": 0})
    assert await receive_stream(communicator) == counted(1)
    assert not communicator.future.done()
    communicator.future.cancel()
    await asyncio.wait([communicator.future])


async def test_close_sent_mid_stream_is_handled_after_the_whole_stream():
    communicator = await connected()
    await communicator.send_json_to({"count": 5, "interval": 0.01})
    assert await communicator.receive_json_from() == {"n": 1}
    await communicator.send_json_to({"close": True})
    # The handler is still in its loop: the close waits behind every remaining frame.
    assert await receive_stream(communicator) == counted(5)[1:]
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 1000}
    await communicator.disconnect()


async def test_a_disconnect_mid_stream_waits_for_the_stream_to_end():
    communicator = await connected()
    await communicator.send_json_to({"count": 3, "interval": 0.01})
    assert await communicator.receive_json_from() == {"n": 1}
    # The disconnect event queues behind the running handler; then StopConsumer ends it.
    await communicator.disconnect()
    assert communicator.future.done()
    assert communicator.future.exception() is None
    sent = [json.loads(communicator.output_queue.get_nowait()["text"]) for _ in range(3)]
    assert sent == counted(3)[1:]


async def test_one_stream_holds_up_every_other_sync_consumer_in_the_process():
    # Record every event the consumers send, in the order the server would send them.
    sent = []

    def recording(label):
        async def app(scope, receive, send):
            async def send_and_record(message):
                sent.append((label, message.get("text", message["type"])))
                await send(message)

            return await application(scope, receive, send_and_record)

        return app

    first = WebsocketCommunicator(recording("first"), PATH)
    await first.connect()
    await first.send_json_to({"count": 3, "interval": 0.01})
    assert await first.receive_json_from() == {"n": 1}

    # A second socket, while the first stream runs: even its accept must wait for the thread.
    second = WebsocketCommunicator(recording("second"), PATH)
    await second.connect()
    await second.send_json_to({"count": 2, "interval": 0})
    assert await receive_stream(second) == counted(2)

    assert sent[1:] == [
        ("first", '{"n": 1}'),
        ("first", '{"n": 2}'),
        ("first", '{"n": 3}'),
        ("first", '{"done": true}'),
        ("second", "websocket.accept"),
        ("second", '{"n": 1}'),
        ("second", '{"n": 2}'),
        ("second", '{"done": true}'),
    ]
    await first.disconnect()
    await second.disconnect()


@pytest.mark.hostile("a flood: 200 frames queued at once on one socket, while a second socket "
                     "connects and streams",
                     "the second socket is served between the flood's frames: the sockets take "
                     "turns on the one sync thread, one handler at a time")
async def test_a_flood_takes_turns_with_other_sockets_on_the_thread():
    sent = []  # (socket, text or event type), in the order the consumers send them

    def recording(label):
        async def app(scope, receive, send):
            async def send_and_record(message):
                sent.append((label, message.get("text", message["type"])))
                await send(message)

            return await application(scope, receive, send_and_record)

        return app

    flood = WebsocketCommunicator(recording("flood"), PATH)
    await flood.connect()
    # 200 frames waiting in the consumer's queue: it handles them one after another.
    for _ in range(200):
        await flood.send_to(text_data="flood")
    other = WebsocketCommunicator(recording("other"), PATH)
    await other.connect()
    await other.send_json_to({"count": 2, "interval": 0})
    assert await receive_stream(other) == counted(2)
    # The flood has not finished when the other socket's stream is done, and loses nothing.
    floods = [text for label, text in sent if label == "flood"][1:]  # after the accept
    assert len(floods) < 200
    answers = [await flood.receive_json_from() for _ in range(200)]
    assert all("not valid JSON" in answer["error"] for answer in answers)
    await flood.disconnect()
    await other.disconnect()


async def test_every_handler_runs_on_one_shared_thread(monkeypatch):
    threads = []
    original = StreamSyncConsumer.websocket_connect

    def connect(self, event):
        threads.append(threading.get_ident())
        original(self, event)

    monkeypatch.setattr(StreamSyncConsumer, "websocket_connect", connect)
    communicators = [WebsocketCommunicator(application, PATH) for _ in range(5)]
    await asyncio.gather(*(c.connect() for c in communicators))
    assert len(threads) == 5
    assert len(set(threads)) == 1
    for communicator in communicators:
        await communicator.disconnect()


@pytest.mark.hostile("a path no route matches (`/ws/nope/`), in process",
                     "URLRouter raises `ValueError: No route found for path`")
async def test_unknown_path_has_no_route():
    communicator = WebsocketCommunicator(application, "/ws/nope/")
    with pytest.raises(ValueError, match="No route found for path 'ws/nope/'"):
        await communicator.connect()
