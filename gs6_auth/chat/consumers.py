import json
import logging

from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError, transaction

from .flood import FLOOD_CLOSE_CODE, FLOOD_ERROR, TokenBucket
from .models import Message, Room

logger = logging.getLogger(__name__)

MAX_MESSAGE_LENGTH = 1000
# How many of the room's latest messages a new socket receives, oldest first.
HISTORY_LENGTH = 50
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
    async def connect(self):
        # The route (chat/routing.py) only matches valid room names, so this one is safe to use
        # in a group name.
        self.room_name = self.scope["url_route"]["kwargs"]["room_name"]
        self.room_group_name = f"chat_{self.room_name}"
        # Each socket has its own flood control (chat/flood.py).
        self.flood = TokenBucket.from_settings()
        # AuthMiddleware (gs6/asgi.py) put the session's user here: a User, or AnonymousUser.
        self.user = self.scope["user"]
        if not self.user.is_authenticated:
            # close() before accept() refuses the handshake itself: the server answers 403 and
            # the socket never opens. (After accept() it would open, then close.)
            await self.close()
            return
        # self.channel_name is this connection's own address on the channel layer, made for it
        # when the consumer started. Joining a group files that address under the group's name.
        # Join before accept(): if the layer is down (Redis stopped), group_add raises here and
        # the handshake is refused, instead of opening a socket that would never hear its room.
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.channel_layer.group_add(NOTIFICATIONS_GROUP, self.channel_name)
        # Join the group before reading the history: a message saved in between then arrives
        # twice (in the history and live; the page skips the repeat by its "id"), not never.
        history = await self.load_history()
        await self.accept()
        # The first frame: what was said before this socket came, and (as in gs4) its address.
        await self.send(
            text_data=json.dumps({"history": history, "channel_name": self.channel_name})
        )

    # The ORM is synchronous: it may block on the database, so Django refuses to run it on the
    # event loop (SynchronousOnlyOperation). database_sync_to_async runs these methods in a
    # worker thread, and closes that thread's stale database connections before and after.

    @database_sync_to_async
    def load_history(self):
        latest = Message.objects.filter(room__name=self.room_name).order_by("-created", "-id")
        # as_frame() reads each message's user: fetch them in the same query, in this thread.
        latest = latest.select_related("user")
        # Build the list here, in the thread: a QuerySet is lazy, and evaluating it later on
        # the event loop would query the database there.
        return [message.as_frame() for message in reversed(latest[:HISTORY_LENGTH])]

    @database_sync_to_async
    def save_message(self, text):
        # One transaction: a new room is stored together with its first message, or not at all.
        with transaction.atomic():
            room, _ = Room.objects.get_or_create(name=self.room_name)
            return Message.objects.create(room=room, user=self.user, text=text)

    async def disconnect(self, close_code):
        # Groups do not notice closed sockets. Without this, the room would keep queueing
        # messages for a channel nobody reads until group_expiry (a day) removes it.
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)
        await self.channel_layer.group_discard(NOTIFICATIONS_GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        # Who sent it is self.user, from the session. A "user" key in the frame is never read:
        # it says whatever the client wants it to say.
        if await self.flooded():
            return
        data, error = parse_frame(text_data)
        if error:
            await self.send_error(error)
        elif "to" in data:
            await self.send_private(data["to"], data["message"])
        else:
            await self.send_to_room(data["message"])

    async def send_to_room(self, text):
        try:
            # Saved first, broadcast second: whatever the room sees is already in the database.
            message = await self.save_message(text)
        except DatabaseError:
            logger.exception("could not save a message for room %s", self.room_name)
            await self.send_error("the database could not save your message, so it was not sent")
            return
        # "type" picks the handler that runs in every consumer of the group: "chat.message"
        # runs chat_message. It is always ours: a client never chooses what runs.
        await self.channel_layer.group_send(
            self.room_group_name, {"type": "chat.message", **message.as_frame()}
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
            await self.channel_layer.send(
                to, {"type": "chat.private", "user": self.user.get_username(), "message": message}
            )
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
        frame = {key: event[key] for key in ("user", "message", "created", "id")}
        await self.send(text_data=json.dumps(frame))

    async def chat_private(self, event):
        frame = {"user": event["user"], "message": event["message"], "private": True}
        await self.send(text_data=json.dumps(frame))

    async def chat_notification(self, event):
        await self.send(text_data=json.dumps({"notification": event["text"]}))
