import asyncio
import json

from channels.consumer import AsyncConsumer
from channels.exceptions import StopConsumer

from .protocol import BadMessage, parse


class StreamAsyncConsumer(AsyncConsumer):
    """Counts to N over the socket, one frame per interval, on the event loop."""

    async def websocket_connect(self, event):
        self.stream_task = None  # the running stream, if any
        await self.send({"type": "websocket.accept"})

    async def websocket_receive(self, event):
        try:
            command = parse(event)
        except BadMessage as error:
            await self.send_json({"error": str(error)})
            return
        if command.name == "count":
            if self.streaming():
                await self.send_json({"error": "a stream is already running: wait for "
                                      '{"done": true} or send {"stop": true} first'})
                return
            # A task, not an await: this handler returns at once, so the consumer can take the
            # next event (a "stop", a disconnect) while the stream runs.
            self.stream_task = asyncio.create_task(self.stream(command.count, command.interval))
        elif command.name == "stop":
            if not self.streaming():
                await self.send_json({"error": "no stream is running, so there is nothing to stop"})
                return
            await self.cancel_stream()
            await self.send_json({"stopped": True})
        else:
            await self.cancel_stream()
            await self.send({"type": "websocket.close", "code": 1000})

    async def stream(self, count, interval):
        for n in range(1, count + 1):
            # Waiting gives the event loop back: other sockets' events run in the meantime.
            await asyncio.sleep(interval)
            await self.send_json({"n": n})
        await self.send_json({"done": True})

    def streaming(self):
        return self.stream_task is not None and not self.stream_task.done()

    async def cancel_stream(self):
        if self.streaming():
            # cancel() raises CancelledError inside the task at its current await; waiting for
            # the task to finish means no {"n"} can follow whatever we send next.
            self.stream_task.cancel()
            await asyncio.wait([self.stream_task])

    async def websocket_disconnect(self, event):
        # A task outlives the handler that started it: stop it, or it streams into a closed socket.
        await self.cancel_stream()
        raise StopConsumer()

    async def send_json(self, data):
        await self.send({"type": "websocket.send", "text": json.dumps(data)})
