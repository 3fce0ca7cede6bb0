import asyncio
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


# --8<-- [start:async_command_error]
def async_command_error(data):
    """command_error(), plus {"stop": true}: only the async consumer can hear it mid-stream."""
    if isinstance(data, dict) and "stop" in data:
        return None if data["stop"] is True else '"stop" must be true'
    return command_error(data)
# --8<-- [end:async_command_error]


# --8<-- [start:async]
class MyAsyncConsumer(AsyncConsumer):
    """The same stream on the event loop: it runs as a task, so the consumer still hears "stop"."""

    async def websocket_connect(self, event):
        self.stream_task = None  # the running stream, if any
        await self.send({"type": "websocket.accept"})

    async def websocket_receive(self, event):
        try:
            data = json.loads(event.get("text"))
        except (TypeError, ValueError, RecursionError):
            data = None  # a binary frame (no "text"), or text that is not JSON
        error = async_command_error(data)
        streaming = self.stream_task is not None and not self.stream_task.done()
        if error:
            await self.send_json({"error": error})
        elif "stop" in data and not streaming:
            await self.send_json({"error": "no stream is running: nothing to stop"})
        elif "stop" in data:
            await self.stop_stream()
            await self.send_json({"stopped": True})
        elif "close" in data:
            await self.stop_stream()
            await self.send({"type": "websocket.close", "code": 1000})
        elif streaming:
            await self.send_json({"error": 'a stream is running: wait for "done" or send "stop"'})
        else:
            # A task, not an await: this handler returns at once, so the consumer can take the
            # next event (a "stop", a disconnect) while the stream runs.
            interval = data.get("interval", 0.1)
            self.stream_task = asyncio.create_task(self.stream(data["count"], interval))

    async def stream(self, count, interval):
        for n in range(1, count + 1):
            # Waiting gives the event loop back: other sockets' events run in the meantime.
            await asyncio.sleep(interval)
            await self.send_json({"n": n})
        await self.send_json({"done": True})

    async def stop_stream(self):
        if self.stream_task is not None:
            # cancel() raises CancelledError in the task at its current await; waiting for the
            # task to end means no {"n"} can follow whatever we send next.
            self.stream_task.cancel()
            await asyncio.wait([self.stream_task])

    async def send_json(self, data):
        await self.send({"type": "websocket.send", "text": json.dumps(data)})

    async def websocket_disconnect(self, event):
        # A task outlives the handler that started it: stop it, or it streams into a closed socket.
        await self.stop_stream()
        raise StopConsumer()
# --8<-- [end:async]
