import json
import time

from channels.consumer import AsyncConsumer, SyncConsumer
from channels.exceptions import StopConsumer


# --8<-- [start:command_error]
def command_error(data):
    """Why this frame is not a command, in words a learner understands; None if it is one."""
    if not isinstance(data, dict) or not ("count" in data or "close" in data):
        return 'send {"count": N} (N from 1 to 100, optional "interval" 0 to 1) or {"close": true}'
    if "close" in data:
        return None if data["close"] is True else '"close" must be true'
    count, interval = data["count"], data.get("interval", 0.1)
    # In Python True is an int (True == 1): without this, {"count": true} would count to 1.
    if isinstance(count, bool) or isinstance(interval, bool):
        return '"count" and "interval" must be numbers, not true or false'
    if not isinstance(count, int) or not 1 <= count <= 100:
        return '"count" must be a whole number from 1 to 100'
    # NaN fails every comparison, so it is refused here too.
    if not isinstance(interval, (int, float)) or not 0 <= interval <= 1:
        return '"interval" must be a number of seconds from 0 to 1'
    return None
# --8<-- [end:command_error]


# --8<-- [start:sync]
class MySyncConsumer(SyncConsumer):
    """Counts to N over the socket, one frame per interval, with plain blocking code."""

    def websocket_connect(self, event):
        # A raw consumer must accept the handshake itself, or the client is never connected.
        self.send({"type": "websocket.accept"})

    def websocket_receive(self, event):
        try:
            data = json.loads(event.get("text"))
        except (TypeError, ValueError, RecursionError):
            data = None  # a binary frame (no "text"), or text that is not JSON
        error = command_error(data)
        if error:
            # Answer and keep the socket open: one bad frame should not cost the connection.
            self.send_json({"error": error})
        elif "close" in data:
            # The server ends the connection; 1000 means "normal closure".
            self.send({"type": "websocket.close", "code": 1000})
        else:
            self.stream(data["count"], data.get("interval", 0.1))

    def stream(self, count, interval):
        # This loop holds the one thread that runs every SyncConsumer handler in the process:
        # until it ends, no other event is handled, not this socket's, not anyone else's.
        for n in range(1, count + 1):
            time.sleep(interval)
            # send() returns once the frame is handed to the server: it leaves now.
            self.send_json({"n": n})
        self.send_json({"done": True})

    def send_json(self, data):
        # A raw consumer sends text; JSON is this protocol's choice, so we encode it ourselves.
        self.send({"type": "websocket.send", "text": json.dumps(data)})

    def websocket_disconnect(self, event):
        # The socket is gone: tell Channels this consumer is finished, so its instance is freed.
        raise StopConsumer()
# --8<-- [end:sync]


# --8<-- [start:async]
class MyAsyncConsumer(AsyncConsumer):
    """An echo, written with async def: it runs on the event loop, not in a thread."""

    async def websocket_connect(self, event):
        await self.send({"type": "websocket.accept"})

    async def websocket_receive(self, event):
        if event.get("text") is not None:
            await self.send({"type": "websocket.send", "text": event["text"]})
        else:
            await self.send({"type": "websocket.send", "bytes": event["bytes"]})

    async def websocket_disconnect(self, event):
        raise StopConsumer()
# --8<-- [end:async]
