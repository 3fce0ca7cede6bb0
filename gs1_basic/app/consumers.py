from channels.consumer import AsyncConsumer, SyncConsumer
from channels.exceptions import StopConsumer


# --8<-- [start:sync]
class MySyncConsumer(SyncConsumer):
    """Raw handlers, one per event type: "websocket.connect" runs websocket_connect, and so on."""

    def websocket_connect(self, event):
        # A raw consumer must accept the handshake itself, or the client is never connected.
        self.send({"type": "websocket.accept"})

    def websocket_receive(self, event):
        # A frame arrives as {"text": ...} or, if binary, {"bytes": ...}: send it back as it came.
        if event.get("text") is not None:
            self.send({"type": "websocket.send", "text": event["text"]})
        else:
            self.send({"type": "websocket.send", "bytes": event["bytes"]})

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
