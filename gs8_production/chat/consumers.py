import asyncio
import json
import logging
import re
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from redis.exceptions import RedisError

from . import presence
from .flood import FLOOD_CLOSE_CODE, FLOOD_ERROR, TokenBucket
from .models import Message, Presence, Room

logger = logging.getLogger(__name__)

MAX_MESSAGE_LENGTH = 1000
# How many of the room's latest messages a new socket receives, oldest first.
HISTORY_LENGTH = 50
# What a socket's channel name looks like (the layer made it, with a "!" in it). Other names
# belong to workers, not sockets: a client may not send to them.
CHANNEL_NAME = re.compile(r"[A-Za-z0-9._-]{1,50}![A-Za-z0-9._-]{1,48}")
# `manage.py notify` reaches every chat socket through this group; room groups start with
# "chat_", so no room can clash with it.
NOTIFICATIONS_GROUP = "notifications"
# Per room, the latest read of who is online in this process: (loop time it started, its task).
room_reads = {}
# --8<-- [start:limits]
# A valid frame is shorter than this even with every character escaped (\uXXXX): a longer one
# is refused before json.loads spends time on it.
MAX_FRAME_LENGTH = 16_384
# ?after=ID: the id of the last message a page saw (digits only, as the database makes them),
# and at most this many messages to catch up with, the newest.
AFTER = re.compile(r"[0-9]{1,18}")
CATCH_UP_LENGTH = 500
# --8<-- [end:limits]


def message_error(data):
    """Why this frame is not a chat message, in words a learner understands; None if it is."""
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return 'send a JSON object with a "message" string, like {"message": "hello"}'
    message = data["message"]
    if not message.strip():
        return '"message" must not be empty or only whitespace'
    if len(message) > MAX_MESSAGE_LENGTH:
        return f'"message" has {len(message)} characters; at most {MAX_MESSAGE_LENGTH} are allowed'
    # --8<-- [start:surrogates]
    try:
        # JSON may spell half of a UTF-16 pair ("\ud800") alone. Python keeps it in the str,
        # but it has no UTF-8 form: the database and the Redis layer would fail on it later.
        message.encode("utf-8")
    except UnicodeEncodeError:
        return '"message" holds characters that are not valid Unicode text'
    # --8<-- [end:surrogates]
    if "to" in data and not (isinstance(data["to"], str) and CHANNEL_NAME.fullmatch(data["to"])):
        return '"to" must be a channel name, as sent in {"channel_name": ...}'
    return None


# --8<-- [start:after]
def after_error(query_string):
    """Why ?after= in this query string is refused; None if it is absent or an id."""
    after = parse_qs(query_string.decode("latin-1"), keep_blank_values=True).get("after")
    if after is not None and not (len(after) == 1 and AFTER.fullmatch(after[0])):
        return "?after= must be one id: the digits of the last message's id"
    return None
# --8<-- [end:after]


class ChatConsumer(AsyncWebsocketConsumer):
    # --8<-- [start:dispatch]
    # The layer's events that never touch the database. Each message to a room runs one of
    # them once for every socket in the room.
    NO_DATABASE = frozenset({"chat.message", "chat.private", "chat.notification", "chat.mention",
                             "presence.changed"})

    async def dispatch(self, message):
        if message["type"] not in self.NO_DATABASE:
            # websocket.connect, .receive and .disconnect use the ORM:
            # Channels' own dispatch() closes stale database connections before them.
            await super().dispatch(message)
            return
        # Channels' AsyncConsumer.dispatch without its `await aclose_old_connections()`: a trip
        # to the sync thread that these handlers do not need (docs/lessons/gs8.md measures it).
        await getattr(self, get_handler_name(message))(message)
    # --8<-- [end:dispatch]

    # --8<-- [start:connect]
    async def connect(self):
        self.room_name = self.scope["url_route"]["kwargs"]["room_name"]
        self.room_group_name = f"chat_{self.room_name}"
        # AuthMiddlewareStack (gs8/asgi.py) read the session cookie: a User, or AnonymousUser.
        self.user = self.scope["user"]
        if not self.user.is_authenticated or after_error(self.scope["query_string"]):
            # close() before accept() refuses the handshake: the server answers 403, and the
            # socket never opens. Nothing was joined or sent.
            await self.close()
            return
        # Each socket has its own flood control (chat/flood.py).
        self.flood = TokenBucket.from_settings()
        # self.channel_name is this socket's own address on the channel layer. Joining a group
        # files that address under the group's name.
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.channel_layer.group_add(NOTIFICATIONS_GROUP, self.channel_name)
        # Join first, read second: a message saved in between then arrives twice (in the
        # history and live; the page skips the repeat by its "id"), never not at all.
        history = await self.load_history(self.after())
        # The newest message id this socket has had: where a catch-up starts (layer_recovered).
        # 0 for a room with no message yet: then everything is new.
        self.last_id = max([m["id"] for m in history], default=self.after() or 0)
        await self.accept()
        # Tell the client what was said before it came, and its address (as in gs4).
        await self.send(
            text_data=json.dumps({"history": history, "channel_name": self.channel_name})
        )
        # Who is online: this socket's row, then every socket of the room re-reads the list.
        self.users_sent = None  # the list this socket last sent to its client
        self.users_stale, self.users_task = False, None  # see presence_changed
        await self.mark_present()
        try:
            await self.channel_layer.group_send(self.room_group_name, {"type": "presence.changed"})
        except RedisError:
            # Redis away (a failover takes seconds): the socket is open, so keep it; the room
            # sees this user at its next change of who is online.
            logger.exception("could not announce %s in room %s", self.user, self.room_name)
        # This process's heartbeat (chat/presence.py) keeps the groups and the row fresh.
        self.groups_joined = (self.room_group_name, NOTIFICATIONS_GROUP)
        presence.join(self)
    # --8<-- [end:connect]

    # --8<-- [start:database]
    # The ORM is synchronous: Django refuses to run it on the event loop, where a query would
    # stall every socket (SynchronousOnlyOperation). database_sync_to_async runs these methods
    # in a worker thread, and closes that thread's stale database connections around each call.

    # --8<-- [start:history]
    def after(self):
        """The id in ?after=ID (checked by after_error in connect), or None."""
        after = parse_qs(self.scope["query_string"].decode("latin-1")).get("after")
        return int(after[0]) if after else None

    @database_sync_to_async
    def load_history(self, after):
        latest = Message.objects.filter(room__name=self.room_name).order_by("-id")
        # as_frame() reads message.user: fetch the users in the same query, here in the thread.
        latest = latest.select_related("user")
        if after is not None:
            # A page that reconnects: only what it missed, and a bounded list of it.
            return [m.as_frame() for m in reversed(latest.filter(id__gt=after)[:CATCH_UP_LENGTH])]
        # A list, built here in the thread: a lazy QuerySet would query later, on the loop.
        return [message.as_frame() for message in reversed(latest[:HISTORY_LENGTH])]
    # --8<-- [end:history]

    @database_sync_to_async
    def save_message(self, text):
        room, _ = Room.objects.get_or_create(name=self.room_name)
        # The INSERT commits here; chat/signals.py then broadcasts the new row to the room.
        Message.objects.create(room=room, user=self.user, text=text)
    # --8<-- [end:database]

    # --8<-- [start:presence]
    # Who is online lives in the database (chat/models.py, Presence), which every server
    # process shares: the rows of a room are its open sockets, on whichever process.

    @database_sync_to_async
    def mark_present(self):
        return Presence.objects.mark_present(self.room_name, self.user, self.channel_name)

    async def load_users(self, since):
        # The room's list is the same for every socket of this process: one read, shared by
        # every socket that asks for a read started after `since` (the change it heard of).
        started, read = room_reads.get(self.room_name, (None, None))
        if read is None or started < since:
            started = asyncio.get_running_loop().time()
            read = asyncio.ensure_future(
                database_sync_to_async(Presence.objects.users_in)(self.room_name))
            room_reads[self.room_name] = started, read
        # shield: a socket that closes meanwhile must not cancel the others' read.
        return await asyncio.shield(read)

    async def presence_changed(self, event):
        # Every join tells every socket of the room: a room of C filling up (or C sockets
        # coming back after a host died) would cost C * C reads of the list. Each socket reads
        # at most once per PRESENCE_COALESCE seconds instead, in a task (its chat waits for
        # none), and the sockets of a process share their reads (load_users).
        self.users_stale, self.users_since = True, asyncio.get_running_loop().time()
        if self.users_task is None or self.users_task.done():
            self.users_task = asyncio.create_task(self.send_users())

    async def send_users(self):
        # Read after the change is committed, and again if another came during the read: the
        # last list sent shows the room as it is now, whatever order the events arrived in.
        while self.users_stale:
            await asyncio.sleep(settings.PRESENCE_COALESCE)
            self.users_stale = False
            try:
                users = await self.load_users(self.users_since)
            except DatabaseError:
                logger.exception("could not read who is in room %s", self.room_name)
                return  # the next change, or the next heartbeat's, tries again
            if users != self.users_sent:  # a second tab of a listed user changes nothing
                self.users_sent = users
                await self.send(text_data=json.dumps({"users": users}))
    # --8<-- [end:presence]

    # --8<-- [start:disconnect]
    async def disconnect(self, close_code):
        if not hasattr(self, "groups_joined"):
            return  # refused at the handshake (no login, a bad ?after=): it joined nothing
        presence.leave(self)  # first: a beat after the DELETE below would undo it
        # Groups do not notice closed sockets: leave them, or the room keeps queueing for us.
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)
        await self.channel_layer.group_discard(NOTIFICATIONS_GROUP, self.channel_name)
        await database_sync_to_async(Presence.objects.leave)(self.channel_name)
        await self.channel_layer.group_send(self.room_group_name, {"type": "presence.changed"})

    async def __call__(self, scope, receive, send):
        # disconnect() may never run: an error in a handler ends the consumer without it
        # (django/channels#1466). The process's heartbeat would then keep the socket "online"
        # for ever, and its task would outlive it: both end with the consumer, however.
        try:
            await super().__call__(scope, receive, send)
        finally:
            presence.leave(self)
            if getattr(self, "users_task", None):
                self.users_task.cancel()
    # --8<-- [end:disconnect]

    # --8<-- [start:receive]
    async def receive(self, text_data=None, bytes_data=None):
        # Flood control comes first: a flood of bad frames is a flood too.
        if await self.flooded():
            return
        if text_data is not None and len(text_data) > MAX_FRAME_LENGTH:
            await self.send_error(f"the frame has {len(text_data)} characters; at most "
                                  f"{MAX_FRAME_LENGTH}")
            return
        try:
            data = json.loads(text_data)
        except (TypeError, ValueError, RecursionError):
            data = None  # a binary frame, text that is not JSON, or "[[[[..." too deep to parse
        error = message_error(data)
        # Who sends is self.user, from the session: a "user" key in the frame is never read,
        # nor is a "type": the events' types are written by the server, never by the client.
        if error:
            await self.send_error(error)
        elif "to" in data:
            await self.send_private(data["to"], data["message"])
        else:
            await self.save(data["message"])

    async def chat_message(self, event):
        frame = {key: event[key] for key in ("user", "message", "created", "id")}
        self.last_id = max(self.last_id, frame["id"])
        await self.send(text_data=json.dumps(frame))
    # --8<-- [end:receive]

    # --8<-- [start:flooded]
    async def flooded(self):
        """True if this frame is over the socket's budget, and dropped (chat/flood.py)."""
        verdict = self.flood.take()
        if verdict == "refuse":
            await self.send_error(FLOOD_ERROR)
        elif verdict == "close":
            await self.close(code=FLOOD_CLOSE_CODE)
        return verdict != "ok"
    # --8<-- [end:flooded]

    # --8<-- [start:faults]
    async def save(self, text):
        try:
            # Saved, not sent: the room hears it only once its row is committed (signals.py).
            await self.save_message(text)
        except DatabaseError:
            # The database is down, or locked for too long: say so, and keep the socket.
            logger.exception("could not save a message for room %s", self.room_name)
            await self.send_error("the database could not save your message, so it was not sent")

    async def send_private(self, to, text):
        try:
            # To one channel only. If nobody listens there, the message expires unseen.
            # Private messages are not stored: the history is shown to everyone who joins.
            await self.channel_layer.send(
                to, {"type": "chat.private", "user": self.user.get_username(), "message": text}
            )
        except ChannelFull:
            # That channel holds `capacity` unread messages already: the sender is told.
            await self.send_error(f"{to} has too many unread messages; yours was dropped")
        except RedisError:
            # Redis is away (a failover takes seconds): the sender is told, the socket stays.
            logger.exception("could not send a private message to %s", to)
            await self.send_error("the channel layer is unavailable; your message was not sent")
    # --8<-- [end:faults]

    async def layer_recovered(self, event):
        # Redis was away (a failover, chat/layers.py): the room's messages saved meanwhile
        # never came. Join again (a Redis that restarted empty forgot the groups), then send
        # them, as the history a reconnecting page asks for; the page skips ids it has shown.
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.channel_layer.group_add(NOTIFICATIONS_GROUP, self.channel_name)
        history = await self.load_history(self.last_id)
        self.last_id = max([m["id"] for m in history], default=self.last_id)
        await self.send(text_data=json.dumps({"history": history,
                                              "channel_name": self.channel_name}))

    async def send_error(self, reason):
        await self.send(text_data=json.dumps({"error": reason}))

    async def chat_private(self, event):
        frame = {"user": event["user"], "message": event["message"], "private": True}
        await self.send(text_data=json.dumps(frame))

    async def chat_notification(self, event):
        await self.send(text_data=json.dumps({"notification": event["text"]}))

    async def chat_mention(self, event):
        # Sent by the worker (chat/workers.py) to each socket of a user a message mentions.
        frame = {key: event[key] for key in ("room", "user", "message", "id")}
        await self.send(text_data=json.dumps({"mention": frame}))
