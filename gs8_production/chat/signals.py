"""Every new Message reaches its room's sockets, whoever saved it: the consumer, the admin, a
view, `manage.py shell`. The consumer only saves; this is the one place that broadcasts."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Message
from .workers import MENTIONS_CHANNEL


# --8<-- [start:broadcast]
@receiver(post_save, sender=Message)
def broadcast_new_message(sender, instance, created, **kwargs):
    if not created:
        return  # an edit in the admin is not a new message
    group = f"chat_{instance.room.name}"  # the consumers' room_group_name
    # "type" names the handler that runs in every consumer of the group: chat_message.
    event = {"type": "chat.message", **instance.as_frame()}
    channel_layer = get_channel_layer()
    # After the COMMIT, never before: a row that is rolled back was never said, and is not sent.
    # This is plain sync code, so async_to_sync runs the layer's coroutine. In a thread of
    # database_sync_to_async (the consumer's save) asgiref hands the coroutine to the server's
    # event loop and waits for it (asgiref/sync.py: SyncToAsync.thread_handler records the
    # loop, AsyncToSync.__call__ schedules on it); with no loop around (a shell) it makes one.
    # --8<-- [start:robust]
    # robust=True: if the layer fails (Redis away), the error is logged, not raised into the
    # sender's consumer; the row is saved, and pages get it when they catch up (?after=).
    transaction.on_commit(
        lambda: async_to_sync(channel_layer.group_send)(group, event), robust=True
    )
    # --8<-- [end:robust]
    # --8<-- [start:worker]
    if "@" in instance.text:
        # Finding who is mentioned and where they are online is slow work (queries): handed to
        # the worker (chat/workers.py), so neither the sender's socket nor the room waits.
        job = {"type": "mentions.find", "id": instance.pk}
        transaction.on_commit(
            lambda: async_to_sync(channel_layer.send)(MENTIONS_CHANNEL, job), robust=True
        )
    # --8<-- [end:worker]
# --8<-- [end:broadcast]
