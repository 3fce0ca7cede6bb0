"""The consumers in-process, through the project's real router, with WebsocketCommunicator."""

import pytest
from channels.testing import WebsocketCommunicator

from gs1.asgi import application

ENDPOINTS = ["/ws/sc/", "/ws/ac/"]
FRAMES = ["hello", "ünïcödé ✓", '{"json": "stays text"}', "x" * 10_000]


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_connect_is_accepted(path):
    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect()
    assert connected
    await communicator.disconnect()


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_echoes_every_text_frame_unchanged_and_in_order(path):
    communicator = WebsocketCommunicator(application, path)
    await communicator.connect()
    for text in FRAMES:
        await communicator.send_to(text_data=text)
    assert [await communicator.receive_from() for _ in FRAMES] == FRAMES
    assert await communicator.receive_nothing()
    await communicator.disconnect()


@pytest.mark.hostile("a binary frame", "echoed back as the same bytes: gs1's consumers echo any "
                     "frame, text or binary")
@pytest.mark.parametrize("path", ENDPOINTS)
async def test_binary_frames_come_back_as_binary(path):
    communicator = WebsocketCommunicator(application, path)
    await communicator.connect()
    await communicator.send_to(bytes_data=b"\x00\xffraw")
    output = await communicator.receive_output()
    assert output == {"type": "websocket.send", "bytes": b"\x00\xffraw"}
    await communicator.disconnect()


# Text is only text to these consumers: whatever it looks like, it is echoed unchanged.
LOOKS_LIKE_MORE = [
    pytest.param(
        '{"count": 3', id="malformed-json",
        marks=pytest.mark.hostile('malformed JSON, `{"count": 3`',
                                  "echoed unchanged: gs1 does not parse JSON"),
    ),
    pytest.param(
        '{"type": "websocket.disconnect"}', id="disconnect-event",
        marks=pytest.mark.hostile(
            'a client-chosen event type, `{"type": "websocket.disconnect"}` as text',
            "echoed as text; the consumer stays connected: events come from the server, and "
            "a frame always arrives as a `websocket.receive`",
        ),
    ),
    pytest.param(
        "<script>alert(1)</script>", id="html",
        marks=pytest.mark.hostile("HTML, `<script>alert(1)</script>`",
                                  "echoed unchanged; the page shows it as text"),
    ),
]


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("text", LOOKS_LIKE_MORE)
async def test_text_that_looks_like_json_or_an_event_is_only_echoed(path, text):
    communicator = WebsocketCommunicator(application, path)
    await communicator.connect()
    await communicator.send_to(text_data=text)
    assert await communicator.receive_output() == {"type": "websocket.send", "text": text}
    # Still connected and still echoing: the text was never taken for an event.
    await communicator.send_to(text_data="still here")
    assert await communicator.receive_from() == "still here"
    assert not communicator.future.done()
    await communicator.disconnect()


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_disconnect_stops_the_consumer(path):
    communicator = WebsocketCommunicator(application, path)
    await communicator.connect()
    # disconnect() waits for the consumer to finish: StopConsumer ends it cleanly.
    await communicator.disconnect()
    assert communicator.future.done()
    assert communicator.future.exception() is None


async def test_each_connection_gets_its_own_consumer():
    first = WebsocketCommunicator(application, "/ws/ac/")
    second = WebsocketCommunicator(application, "/ws/ac/")
    await first.connect()
    await second.connect()
    await first.send_to(text_data="to first")
    assert await first.receive_from() == "to first"
    assert await second.receive_nothing()
    await first.disconnect()
    await second.send_to(text_data="second still works")
    assert await second.receive_from() == "second still works"
    await second.disconnect()


@pytest.mark.hostile("a path no route matches (`/ws/nope/`), in process",
                     "URLRouter raises `ValueError: No route found for path`")
async def test_unknown_path_has_no_route():
    communicator = WebsocketCommunicator(application, "/ws/nope/")
    with pytest.raises(ValueError, match="No route found for path 'ws/nope/'"):
        await communicator.connect()
