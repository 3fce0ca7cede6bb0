"""The Redis channel layer, made to ride out a Redis failover.

When Sentinel promotes the replica, every connection to the old primary breaks. channels-redis
4.3.0 lets the error out of receive(): Channels' consumer loop (await_many_dispatch) dies of it,
and with it every open socket of the process. Here receive() waits until Redis answers again
(a new connection asks the Sentinels where the primary is now), then hands a socket's consumer
{"type": "layer.recovered"}: what was sent to it meanwhile is lost, and it can catch up.
"""

import asyncio
import logging

from channels_redis.core import RedisChannelLayer
from redis.exceptions import ConnectionError, TimeoutError

logger = logging.getLogger(__name__)

# --8<-- [start:retry]
# What a failover looks like from a client: the old primary refuses connections (or a read
# hangs past the socket timeout) until the Sentinels name the new one.
REDIS_AWAY = (ConnectionError, TimeoutError)
# Waits between attempts to reach Redis: 0.1 s, 0.2 s, 0.4 s ... at most 2 s, for as long as
# it takes.
FIRST_WAIT, LONGEST_WAIT = 0.1, 2.0


class FailoverRedisChannelLayer(RedisChannelLayer):
    async def receive(self, channel):
        try:
            return await super().receive(channel)
        except REDIS_AWAY as error:
            # channels-redis keeps its own state right when receive() raises (core.py): the
            # waiter count goes down, the receive lock is released (the next waiter then reads
            # from Redis, and meets the same error) and this channel's empty buffer is dropped.
            logger.warning("channel layer: Redis unreachable (%s); waiting for it", error)
        await self.wait_for_redis()
        if "!" in channel:
            # A socket's consumer (chat/consumers.py, layer_recovered) is told: what was sent
            # to it meanwhile is lost, and it can send its client what the database has.
            return {"type": "layer.recovered"}
        return await self.receive(channel)  # a worker's channel: its jobs wait in Redis

    async def wait_for_redis(self):
        wait = FIRST_WAIT
        while True:
            await asyncio.sleep(wait)
            try:
                # A new connection asks the Sentinels where the primary is now.
                await self.connection(0).ping()
                return
            except REDIS_AWAY:
                wait = min(wait * 2, LONGEST_WAIT)
# --8<-- [end:retry]
