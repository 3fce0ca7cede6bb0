"""Work done for every stored message, away from the sockets: `manage.py runworker chat-mentions`.

A message that says "@bob" notifies bob on every socket he has open, in any room. Finding that
takes queries (who is bob, where is he online); chat/signals.py only sends the message's id to
the channel "chat-mentions", and this worker, a process of its own, does the rest.
"""

import re

from asgiref.sync import async_to_sync
from channels.consumer import SyncConsumer
from channels.exceptions import ChannelFull

from .models import Message, Presence

# --8<-- [start:worker]
# The channel the worker reads (gs8/asgi.py routes it here). No "!" in it: any worker process
# listening on it may take a job, and each job is taken once.
MENTIONS_CHANNEL = "chat-mentions"
# "@name": the characters Django's usernames may hold.
MENTION = re.compile(r"@([\w.@+-]{1,150})")


class MentionsWorker(SyncConsumer):
    # A SyncConsumer's handlers run in a thread (the ORM is synchronous), one event at a time.
    def mentions_find(self, event):
        message = Message.objects.select_related("user", "room").filter(pk=event["id"]).first()
        if message is None:
            return  # deleted since: nothing to say
        names = set(MENTION.findall(message.text)) - {message.user.get_username()}
        # Presence has a row for each open socket (chat/models.py), with its channel name.
        sockets = Presence.objects.filter(user__username__in=names)
        mention = {"type": "chat.mention", "room": message.room.name,
                   "user": message.user.get_username(), "message": message.text,
                   "id": message.pk}
        for channel_name in sockets.values_list("channel_name", flat=True):
            try:
                async_to_sync(self.channel_layer.send)(channel_name, mention)
            except ChannelFull:
                pass  # that socket is far behind: a notification is not worth waiting for

    def layer_recovered(self, event):
        pass  # Redis came back after a failover (chat/layers.py): jobs waited in Redis
# --8<-- [end:worker]
