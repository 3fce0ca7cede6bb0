"""Who is online, kept fresh by one heartbeat per server process instead of one per socket.

gs6 gives every socket a task that wakes every PRESENCE_HEARTBEAT seconds to join its groups
again and refresh its row: a process holding 1000 sockets makes 100 wake-ups, 200 trips to
Redis and 100 trips to the database thread a second, and every chat message queues behind
them (docs/benchmarks.md measures it). Here one task per process does it for all its sockets:
the same trips to Redis, and one UPDATE per thousand rows.
"""

import asyncio
import logging

from channels.db import database_sync_to_async
from django.conf import settings

from .models import Presence

logger = logging.getLogger(__name__)

# The sockets open in this process: channel name -> consumer.
sockets = {}
# The heartbeat task, with the event loop it runs on (each test has a loop of its own).
beating = {"loop": None, "task": None}


def join(consumer):
    """Keep this socket's groups and row fresh for as long as it is open."""
    sockets[consumer.channel_name] = consumer
    loop, task = asyncio.get_running_loop(), beating["task"]
    if beating["loop"] is not loop or task is None or task.done():
        beating.update(loop=loop, task=loop.create_task(beat()))


def leave(consumer):
    sockets.pop(getattr(consumer, "channel_name", None), None)


# --8<-- [start:beat]
async def beat():
    while sockets:
        await asyncio.sleep(settings.PRESENCE_HEARTBEAT)
        try:
            await beat_once()
        except Exception:
            # Redis or the database away for a moment: the task must not die of it, or every
            # socket here would drop out of the lists, and later out of its room. Next beat.
            logger.exception("the presence heartbeat failed")


async def beat_once():
    current = list(sockets.values())
    for consumer in current:
        if consumer.channel_name not in sockets:
            continue  # it left since the list was taken
        # Joining again renews the membership, which the layer forgets after group_expiry
        # (settings.py): a socket open for days still hears its room.
        for group in consumer.groups_joined:
            await consumer.channel_layer.group_add(group, consumer.channel_name)
        if consumer.channel_name not in sockets:
            # It left meanwhile, and its disconnect() may have left the groups before this
            # joined them again: leave them once more, or it stays a member for good.
            for group in consumer.groups_joined:
                await consumer.channel_layer.group_discard(group, consumer.channel_name)
    rooms = await database_sync_to_async(Presence.objects.refresh)(
        [consumer.channel_name for consumer in current])
    for room in sorted(rooms) if current else ():
        # A room that lost rows (their process died) re-reads its list, on every process.
        await current[0].channel_layer.group_send(f"chat_{room}", {"type": "presence.changed"})
# --8<-- [end:beat]
