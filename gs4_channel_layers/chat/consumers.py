import json

from channels.consumer import get_handler_name
from channels.exceptions import ChannelFull
from channels.generic.websocket import AsyncWebsocketConsumer

from .flood import FLOOD_CLOSE_CODE, FLOOD_ERROR, TokenBucket

MAX_MESSAGE_LENGTH = 1000
# Even with every character escaped (\uXXXX), a valid frame is shorter than this: a longer one
# is refused before it is parsed.
MAX_FRAME_LENGTH = 16_384
# Every chat socket joins this group as well as its room's, so `manage.py notify` can reach
# all of them with one group_send. Room groups start with "chat_", so no room can clash with it.
NOTIFICATIONS_GROUP = "notifications"


def message_error(message):
    """Why `message` cannot be sent, in words a learner understands; None if it can."""
    if not isinstance(message, str):
        return '"message" must be a string'
    if not message.strip():
        return '"message" must not be empty or only whitespace'
    if len(message) > MAX_MESSAGE_LENGTH:
        return f'"message" has {len(message)} characters; at most {MAX_MESSAGE_LENGTH} are allowed'
    try:
        # A layer that crosses the network (Redis) must serialize the message: lone surrogates
        # ("\ud800" in JSON) have no UTF-8 form and would make it fail.
        message.encode("utf-8")
    except UnicodeEncodeError:
        return '"message" holds characters that are not valid Unicode text'
    return None


def parse_frame(text_data):
    """Check a received frame: (the parsed object, None), or (None, why it is refused)."""
    if text_data is None:
        return None, 'binary frames are not accepted: send JSON text, {"message": "..."}'
    if len(text_data) > MAX_FRAME_LENGTH:
        return None, f"the frame has {len(text_data)} characters; at most {MAX_FRAME_LENGTH}"
    try:
        data = json.loads(text_data)
    except ValueError:
        return None, 'the frame is not JSON: send {"message": "..."}'
    except RecursionError:
        # "[[[[..." thousands deep exhausts the parser's stack before it finds an error.
        return None, "the frame's JSON is nested too deeply"
    if not isinstance(data, dict):
        return None, 'send a JSON object: {"message": "..."}'
    if "message" not in data:
        return None, 'the object has no "message" key'
    error = message_error(data["message"])
    return (None, error) if error else (data, None)


class ChatConsumer(AsyncWebsocketConsumer):
    async def dispatch(self, message):
        # Channels' own dispatch() runs Django's close_old_connections() in its one sync thread
        # before every handler, in case the handler uses the ORM. This consumer never touches
        # the database, so it goes straight to the handler and saves a thread trip per socket
        # per message (the lesson's page, "What every message costs", has the measurements).
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        # The route (chat/routing.py) only matches valid room names, so this one is safe to use
        # in a group name.
        self.room_name = self.scope["url_route"]["kwargs"]["room_name"]
        self.room_group_name = f"chat_{self.room_name}"
        # Each socket has its own flood control (chat/flood.py).
        self.flood = TokenBucket.from_settings()
        # self.channel_name is this connection's own address on the channel layer, made for it
        # when the consumer started. Joining a group files that address under the group's name.
        # Join before accept(): if the layer is down (Redis stopped), group_add raises here and
        # the handshake is refused, instead of opening a socket that would never hear its room.
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.channel_layer.group_add(NOTIFICATIONS_GROUP, self.channel_name)
        await self.accept()
        # Tell the client its address, so that others can send to it directly.
        await self.send(text_data=json.dumps({"channel_name": self.channel_name}))

    async def disconnect(self, close_code):
        # Groups do not notice closed sockets. Without this, the room would keep queueing
        # messages for a channel nobody reads until group_expiry (a day) removes it.
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)
        await self.channel_layer.group_discard(NOTIFICATIONS_GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if await self.flooded():
            return
        data, error = parse_frame(text_data)
        if error:
            await self.send_error(error)
        elif "to" in data:
            await self.send_private(data["to"], data["message"])
        else:
            # "type" picks the handler that runs in every consumer of the group: "chat.message"
            # runs chat_message. It is always ours: a client never chooses what runs.
            await self.channel_layer.group_send(
                self.room_group_name, {"type": "chat.message", "message": data["message"]}
            )

    async def flooded(self):
        """True if this frame is over the flood limit and dropped. It runs before any other
        check: a flood of bad frames is a flood too."""
        verdict = self.flood.take()
        if verdict == "refuse":
            await self.send_error(FLOOD_ERROR)
        elif verdict == "close":
            await self.close(code=FLOOD_CLOSE_CODE)
        return verdict != "ok"

    async def send_private(self, to, message):
        if not self.is_consumer_channel(to):
            await self.send_error('"to" must be a channel name, as sent in {"channel_name": ...}')
            return
        try:
            # To one channel only. If nobody listens on it, the message simply expires:
            # a channel layer delivers at most once and never tells the sender.
            await self.channel_layer.send(to, {"type": "chat.private", "message": message})
        except ChannelFull:
            await self.send_error(f"{to} has too many unread messages; yours was dropped")

    def is_consumer_channel(self, name):
        # A consumer's channel name has a "!" in it (a process-specific channel). Refusing other
        # names keeps clients away from channels that background workers listen on.
        if not isinstance(name, str) or "!" not in name:
            return False
        try:
            return self.channel_layer.require_valid_channel_name(name)
        except TypeError:
            return False

    async def send_error(self, reason):
        await self.send(text_data=json.dumps({"error": reason}))

    # Handlers for messages from the channel layer, named after their "type" with "." -> "_".

    async def chat_message(self, event):
        await self.send(text_data=json.dumps({"message": event["message"]}))

    async def chat_private(self, event):
        await self.send(text_data=json.dumps({"message": event["message"], "private": True}))

    async def chat_notification(self, event):
        await self.send(text_data=json.dumps({"notification": event["text"]}))
