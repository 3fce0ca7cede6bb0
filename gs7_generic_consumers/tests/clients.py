"""Small clients for the tests: in-process (communicators) and real (websockets, a raw socket)."""

import asyncio
import json
from urllib.parse import urlsplit

from channels.layers import InMemoryChannelLayer
from channels.testing import ApplicationCommunicator, WebsocketCommunicator

from gs7.asgi import application

# Browsers send their page's origin; AllowedHostsOriginValidator refuses a handshake without one.
ORIGIN = "http://127.0.0.1:8000"


async def connect(path):
    """An in-process websocket on `path`, accepted."""
    communicator = WebsocketCommunicator(application, path, headers=[(b"origin", ORIGIN.encode())])
    connected, _ = await communicator.connect()
    assert connected, f"{path} was refused"
    return communicator


async def join(room="lobby"):
    """An in-process socket in `room`, its first frame read: (communicator, channel name)."""
    communicator = await connect(f"/ws/ajwc/{room}/")
    first = await communicator.receive_json_from()
    return communicator, first["channel_name"]


async def group_members(layer, group):
    """The channel names in a group, read from the layer's own storage."""
    if isinstance(layer, InMemoryChannelLayer):
        return set(layer.groups.get(group, {}))
    # channels_redis keeps a group as a sorted set under "<prefix>:group:<name>".
    connection = layer.connection(layer.consistent_hash(group))
    return {name.decode() for name in await connection.zrange(layer._group_key(group), 0, -1)}


class Events(ApplicationCommunicator):
    """GET /events/<room>/ in-process: the stream's response start, then one event at a time."""

    def __init__(self, room="lobby"):
        scope = {"type": "http", "http_version": "1.1", "method": "GET",
                 "path": f"/events/{room}/", "query_string": b"",
                 "headers": [(b"host", b"127.0.0.1:8000")]}
        super().__init__(application, scope)

    async def open(self):
        await self.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await self.receive_output()
        assert start["type"] == "http.response.start"
        # The first body part, a comment, sends the headers; the response stays open.
        first = await self.receive_output()
        assert first["body"].startswith(b":") and first["more_body"]
        return start

    async def next_data(self, timeout=1):
        """The `data:` of the next event, comments (": ...") skipped."""
        while True:
            body = await self.receive_output(timeout)
            assert body["type"] == "http.response.body" and body["more_body"]
            event = body["body"].decode()
            if event.startswith("data: "):
                assert event.endswith("\n\n")  # a blank line ends an event
                return event[len("data: "):-2]


async def recv_json(ws, timeout=10):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def nothing_more(ws, timeout=0.3):
    """True if no frame arrives within `timeout` seconds."""
    try:
        frame = await asyncio.wait_for(ws.recv(), timeout)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected frame: {frame!r}")


class EventStream:
    """A real HTTP/1.1 client for /events/<room>/ on a raw socket, as a browser's EventSource
    reads it: the response is chunked, and each event is `data: ...` and a blank line."""

    def __init__(self, url):
        self.url = urlsplit(url)
        self.buffer = b""

    async def __aenter__(self):
        self.reader, self.writer = await asyncio.open_connection(self.url.hostname, self.url.port)
        self.writer.write(f"GET {self.url.path} HTTP/1.1\r\nHost: {self.url.netloc}\r\n"
                          "Accept: text/event-stream\r\n\r\n".encode())
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)
        self.status_line, *lines = head.decode("latin-1").split("\r\n")
        self.headers = {k.lower(): v.strip() for k, v in (h.split(":", 1) for h in lines if h)}
        return self

    async def __aexit__(self, *exc):
        self.close()

    def close(self):
        """Go away as a closed browser tab does: the connection ends, mid-response."""
        self.writer.close()

    async def chunk(self):
        size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
        data = await self.reader.readexactly(size + 2)  # the chunk, then its own CRLF
        return data[:-2]

    async def next_data(self, timeout=10):
        """The `data:` of the next event (an event ends with a blank line)."""
        async with asyncio.timeout(timeout):
            while True:
                while b"\n\n" not in self.buffer:
                    self.buffer += await self.chunk()
                event, self.buffer = self.buffer.split(b"\n\n", 1)
                data = [line[len(b"data: "):] for line in event.split(b"\n")
                        if line.startswith(b"data: ")]
                if data:
                    return b"\n".join(data).decode()
