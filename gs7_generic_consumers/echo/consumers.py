"""Three echoes, one per generic consumer: what the base class does, and what is left to you."""

import json

from channels.generic.websocket import (
    AsyncWebsocketConsumer,
    JsonWebsocketConsumer,
    WebsocketConsumer,
)

# Daphne sends no empty text frame (it skips a falsy "text"), so "" could not come back.
TEXT_ERROR = "send a text frame that is not empty: binary and empty frames are not echoed"
OBJECT_ERROR = 'send a JSON object, like {"hello": "world"}'


# --8<-- [start:echo-sync]
class EchoConsumer(WebsocketConsumer):
    # No connect(): the base class's accepts. No disconnect(): there is nothing to clean up.
    def receive(self, text_data=None, bytes_data=None):
        if text_data:
            self.send(text_data=text_data)
        else:  # a binary frame (text_data is None, bytes_data holds it), or an empty one
            self.send(text_data=json.dumps({"error": TEXT_ERROR}))
# --8<-- [end:echo-sync]


# --8<-- [start:echo-async]
class AsyncEchoConsumer(AsyncWebsocketConsumer):
    async def receive(self, text_data=None, bytes_data=None):
        if text_data:
            await self.send(text_data=text_data)
        else:
            await self.send(text_data=json.dumps({"error": TEXT_ERROR}))
# --8<-- [end:echo-async]


# --8<-- [start:json-echo]
class JsonEchoConsumer(JsonWebsocketConsumer):
    @classmethod
    def decode_json(cls, text_data):
        # The base class lets json.loads raise, and an exception ends the consumer (1011).
        try:
            return json.loads(text_data)
        except (TypeError, ValueError, RecursionError):
            return None  # a binary frame (text_data is None), or text that is not JSON

    def receive(self, text_data=None, bytes_data=None, **kwargs):
        # The base class raises on a binary or an empty frame: decode every frame instead.
        self.receive_json(self.decode_json(text_data), **kwargs)

    def receive_json(self, content, **kwargs):
        if isinstance(content, dict):
            self.send_json({"echo": content})
        else:  # not JSON (None), or JSON that is not an object: null, 1, "text", [1, 2]
            self.send_json({"error": OBJECT_ERROR})
# --8<-- [end:json-echo]
