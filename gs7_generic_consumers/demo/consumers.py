"""The four generic consumers side by side, each next to its sync or async twin.

The comment lines that start with `# --8<--` mark the parts the docs pages show (the site
hides them); they change nothing in the code.
"""

import json
import re

from asgiref.sync import async_to_sync
from channels.consumer import get_handler_name
from channels.exceptions import DenyConnection
from channels.generic.websocket import (
    AsyncJsonWebsocketConsumer,
    AsyncWebsocketConsumer,
    JsonWebsocketConsumer,
    WebsocketConsumer,
)

from .flood import FLOOD_CLOSE_CODE, FLOOD_ERROR, TokenBucket

BINARY_ERROR = "binary frames are not accepted: send text"
# Daphne never sends an empty text frame (it skips falsy text), so "" cannot be echoed back.
EMPTY_ERROR = "empty frame: there is nothing to echo"
BINARY_JSON_ERROR = 'binary frames are not accepted: send JSON text, such as {"message": "..."}'
EMPTY_JSON_ERROR = 'empty frame: send a JSON object, such as {"message": "..."}'
MAX_MESSAGE_LENGTH = 1000
# Used with fullmatch(): re.match() with "^...$" would let "room\n" through ($ allows it).
ROOM_NAME = re.compile(r"[A-Za-z0-9_-]{1,50}")


# --8<-- [start:no-database]
class NoDatabaseMixin:
    """For async consumers that never use the database, like every one in this lesson.

    Channels' own dispatch() runs Django's close_old_connections() in its one sync thread
    before every handler, in case the handler uses the ORM. This one goes straight to the
    handler, saving a thread trip per message (gs4's page explains, and measures it). A
    consumer that uses the database, as gs5's does, keeps Channels' dispatch().
    """

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
# --8<-- [end:no-database]


# --8<-- [start:echo-sync]
class EchoConsumer(WebsocketConsumer):
    """WS /ws/wsc/. The base class accepts in connect() and calls receive() for every frame."""

    def receive(self, text_data=None, bytes_data=None):
        # A text frame arrives as text_data, a binary one as bytes_data: never both.
        if not text_data:
            # Binary (None) or empty (""): say why, and keep the socket open for the next frame.
            error = BINARY_ERROR if text_data is None else EMPTY_ERROR
            self.send(text_data=json.dumps({"error": error}))
            return
        self.send(text_data=text_data)
# --8<-- [end:echo-sync]


# --8<-- [start:echo-async]
class AsyncEchoConsumer(NoDatabaseMixin, AsyncWebsocketConsumer):
    """WS /ws/awsc/. The same, on the event loop: every send() is awaited."""

    async def receive(self, text_data=None, bytes_data=None):
        if not text_data:
            error = BINARY_ERROR if text_data is None else EMPTY_ERROR
            await self.send(text_data=json.dumps({"error": error}))
            return
        await self.send(text_data=text_data)
# --8<-- [end:echo-async]


def json_type(value):
    """What a learner calls this decoded JSON value, for error messages."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true or false"
    if value is None:
        return "null"
    return "a number"


def reject_constant(name):
    # Python's json accepts NaN and Infinity, which are not JSON: a browser's JSON.parse
    # would choke on them when they came back.
    raise ValueError(f"{name} is not JSON")


# --8<-- [start:json-sync]
class SafeJsonWebsocketConsumer(JsonWebsocketConsumer):
    """A JsonWebsocketConsumer that answers a bad frame with {"error": ...} and stays open.

    The base receive() calls decode_json() unguarded: one malformed frame raises, the consumer
    dies and the client sees its socket close (1011). So receive() is where to catch it.
    """

    @classmethod
    def decode_json(cls, text_data):
        # decode_json decides what counts as JSON; it cannot answer the client (no self).
        return json.loads(text_data, parse_constant=reject_constant)

    def receive(self, text_data=None, bytes_data=None, **kwargs):
        if not text_data:
            # The base class raises for both: a binary frame (None) and an empty one ("").
            error = BINARY_JSON_ERROR if text_data is None else EMPTY_JSON_ERROR
            self.send_json({"error": error})
            return
        try:
            content = self.decode_json(text_data)
        except (ValueError, RecursionError) as error:
            # ValueError: not JSON (JSONDecodeError is one); RecursionError: nested too deep.
            self.send_json({"error": f"the frame is not JSON: {error}"})
            return
        if not isinstance(content, dict):
            self.send_json({"error": f"send a JSON object, not {json_type(content)}"})
            return
        # From here on, receive_json() only ever sees a dict.
        self.receive_json(content, **kwargs)
# --8<-- [end:json-sync]


# --8<-- [start:json-async]
class AsyncSafeJsonWebsocketConsumer(NoDatabaseMixin, AsyncJsonWebsocketConsumer):
    """The same for AsyncJsonWebsocketConsumer, whose decode_json() is a coroutine."""

    @classmethod
    async def decode_json(cls, text_data):
        return json.loads(text_data, parse_constant=reject_constant)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if not text_data:
            error = BINARY_JSON_ERROR if text_data is None else EMPTY_JSON_ERROR
            await self.send_json({"error": error})
            return
        try:
            content = await self.decode_json(text_data)
        except (ValueError, RecursionError) as error:
            await self.send_json({"error": f"the frame is not JSON: {error}"})
            return
        if not isinstance(content, dict):
            await self.send_json({"error": f"send a JSON object, not {json_type(content)}"})
            return
        await self.receive_json(content, **kwargs)
# --8<-- [end:json-async]


# --8<-- [start:json-echo]
class JsonEchoConsumer(SafeJsonWebsocketConsumer):
    """WS /ws/jwc/. receive_json() gets a dict; send_json() encodes the answer."""

    def receive_json(self, content, **kwargs):
        try:
            self.send_json({"echo": content})
        except RecursionError:
            # Wrapped in {"echo": ...}, what was just deep enough to decode can be too deep.
            self.send_json({"error": "nested too deeply to echo back"})
# --8<-- [end:json-echo]


# --8<-- [start:message-error]
def message_error(content):
    """Why a decoded frame is not a chat message, or None if it is one: gs4's rules and words."""
    if "to" in content:
        # gs4 sends these to one channel; broadcasting one here would leak it, so refuse.
        return 'direct messages ("to") are not supported here: every message goes to the room'
    if "message" not in content:
        return 'the object has no "message" key'
    message = content["message"]
    if not isinstance(message, str):
        return '"message" must be a string'
    if not message.strip():
        return '"message" must not be empty or only whitespace'
    if len(message) > MAX_MESSAGE_LENGTH:
        return f'"message" has {len(message)} characters; at most {MAX_MESSAGE_LENGTH} are allowed'
    try:
        # JSON can carry a lone surrogate ("\ud800") that has no UTF-8 form: the Redis layer
        # could not serialize the event, and group_send would raise.
        message.encode("utf-8")
    except UnicodeEncodeError:
        return '"message" holds characters that are not valid Unicode text'
    return None
# --8<-- [end:message-error]


# --8<-- [start:chat-async]
class ChatConsumer(AsyncSafeJsonWebsocketConsumer):
    """WS /ws/ajwc/<room>/: gs4's room chat on AsyncJsonWebsocketConsumer."""

    group_name = None

    async def connect(self):
        room_name = self.scope["url_route"]["kwargs"]["room_name"]
        if not ROOM_NAME.fullmatch(room_name):
            # Raised before accept(): the base class closes, the handshake fails with HTTP 403.
            raise DenyConnection
        # A per-room group comes from the URL, so it cannot be in the class's `groups` list.
        self.group_name = f"chat_{room_name}"
        # Each socket has its own flood control (demo/flood.py), as in gs4.
        self.flood = TokenBucket.from_settings()
        # Join before accept(): if the layer is down (Redis stopped), group_add raises here and
        # the handshake is refused, instead of opening a socket that would never hear its room.
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group_name:  # None if the handshake was refused
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        # Flood control before anything else, decoding included: a flood of bad frames is a
        # flood too. Then the safe JSON handling of the base class, and receive_json().
        verdict = self.flood.take()
        if verdict == "refuse":
            await self.send_json({"error": FLOOD_ERROR})
        elif verdict == "close":
            await self.close(code=FLOOD_CLOSE_CODE)
        else:
            await super().receive(text_data, bytes_data, **kwargs)

    async def receive_json(self, content, **kwargs):
        error = message_error(content)
        if error:
            await self.send_json({"error": error})  # to this socket only
            return
        # We write the event's "type", never the client: it names the handler that runs.
        await self.channel_layer.group_send(
            self.group_name, {"type": "chat.message", "message": content["message"]}
        )

    async def chat_message(self, event):
        # "chat.message" events land here, on every socket in the group, the sender's too.
        await self.send_json({"message": event["message"]})
# --8<-- [end:chat-async]


# --8<-- [start:chat-sync]
class SyncChatConsumer(SafeJsonWebsocketConsumer):
    """WS /ws/jwc/<room>/: the same chat on JsonWebsocketConsumer, in the same rooms."""

    group_name = None

    def connect(self):
        room_name = self.scope["url_route"]["kwargs"]["room_name"]
        if not ROOM_NAME.fullmatch(room_name):
            raise DenyConnection
        self.group_name = f"chat_{room_name}"
        self.flood = TokenBucket.from_settings()
        # The channel layer's methods are coroutines: a sync consumer wraps each call.
        async_to_sync(self.channel_layer.group_add)(self.group_name, self.channel_name)
        self.accept()

    def disconnect(self, code):
        if self.group_name:
            async_to_sync(self.channel_layer.group_discard)(self.group_name, self.channel_name)

    def receive(self, text_data=None, bytes_data=None, **kwargs):
        verdict = self.flood.take()
        if verdict == "refuse":
            self.send_json({"error": FLOOD_ERROR})
        elif verdict == "close":
            self.close(code=FLOOD_CLOSE_CODE)
        else:
            super().receive(text_data, bytes_data, **kwargs)

    def receive_json(self, content, **kwargs):
        error = message_error(content)
        if error:
            self.send_json({"error": error})
            return
        async_to_sync(self.channel_layer.group_send)(
            self.group_name, {"type": "chat.message", "message": content["message"]}
        )

    def chat_message(self, event):
        self.send_json({"message": event["message"]})
# --8<-- [end:chat-sync]
