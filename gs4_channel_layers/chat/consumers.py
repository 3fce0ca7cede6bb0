import json
import re

from channels.generic.websocket import AsyncWebsocketConsumer

MAX_MESSAGE_LENGTH = 1000
# What a socket's channel name looks like (the layer made it, with a "!" in it). Other names
# belong to workers, not sockets: a client may not send to them.
CHANNEL_NAME = re.compile(r"[A-Za-z0-9._-]{1,50}![A-Za-z0-9._-]{1,48}")
# `manage.py notify` reaches every chat socket through this group; room groups start with
# "chat_", so no room can clash with it.
NOTIFICATIONS_GROUP = "notifications"


# --8<-- [start:validation]
def message_error(data):
    """Why this frame is not a chat message, in words a learner understands; None if it is."""
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return 'send a JSON object with a "message" string, like {"message": "hello"}'
    message = data["message"]
    if not message.strip():
        return '"message" must not be empty or only whitespace'
    if len(message) > MAX_MESSAGE_LENGTH:
        return f'"message" has {len(message)} characters; at most {MAX_MESSAGE_LENGTH} are allowed'
    if "to" in data and not (isinstance(data["to"], str) and CHANNEL_NAME.fullmatch(data["to"])):
        return '"to" must be a channel name, as sent in {"channel_name": ...}'
    return None
# --8<-- [end:validation]


class ChatConsumer(AsyncWebsocketConsumer):
    # --8<-- [start:connect]
    async def connect(self):
        self.room_name = self.scope["url_route"]["kwargs"]["room_name"]
        self.room_group_name = f"chat_{self.room_name}"
        # self.channel_name is this socket's own address on the channel layer. Joining a group
        # files that address under the group's name.
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.channel_layer.group_add(NOTIFICATIONS_GROUP, self.channel_name)
        await self.accept()
        # Tell the client its address, so that others can send to it directly.
        await self.send(text_data=json.dumps({"channel_name": self.channel_name}))
    # --8<-- [end:connect]

    # --8<-- [start:disconnect]
    async def disconnect(self, close_code):
        # Groups do not notice closed sockets: leave them, or the room keeps queueing for us.
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)
        await self.channel_layer.group_discard(NOTIFICATIONS_GROUP, self.channel_name)
    # --8<-- [end:disconnect]

    # --8<-- [start:receive]
    async def receive(self, text_data=None, bytes_data=None):
        try:
            data = json.loads(text_data)
        except (TypeError, ValueError, RecursionError):
            data = None  # a binary frame, or text that is not JSON
        error = message_error(data)
        if error:
            await self.send(text_data=json.dumps({"error": error}))
        elif "to" in data:
            # To one channel only. If nobody listens there, the message expires unseen.
            await self.channel_layer.send(
                data["to"], {"type": "chat.private", "message": data["message"]}
            )
        else:
            # "type" names the handler that runs in every consumer of the group: chat_message.
            await self.channel_layer.group_send(
                self.room_group_name, {"type": "chat.message", "message": data["message"]}
            )
    # --8<-- [end:receive]

    # --8<-- [start:handlers]
    async def chat_message(self, event):
        await self.send(text_data=json.dumps({"message": event["message"]}))

    async def chat_private(self, event):
        await self.send(text_data=json.dumps({"message": event["message"], "private": True}))

    async def chat_notification(self, event):
        await self.send(text_data=json.dumps({"notification": event["text"]}))
    # --8<-- [end:handlers]
