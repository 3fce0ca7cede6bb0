"""The channel layer against real Redis servers. Why gs8 runs one Redis (with Sentinel) and not
several: channels-redis 4.3.0 loses direct sends when its "hosts" lists more than one server
(django/channels_redis#221). And how gs8's layer (chat/layers.py) waits out a Redis that is
away for a moment, as in a failover, where channels-redis's own would raise.

send() picks the server by hashing the whole channel name ("specific.abc!xyz"), but the process
that owns the channel reads from the server picked by hashing only the part before "!". With two
servers, about half the channel names land where nobody reads. group_send hashes the part before
"!" too, so rooms seem to work, which is what makes the bug easy to miss.
"""

import asyncio
import uuid

import pytest
import redis.exceptions
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

from chat.layers import FailoverRedisChannelLayer
from testkit.plugin import require
from testkit.services import PrivateRedis

SOCKETS = 20


@pytest.fixture
def two_redis_servers():
    require("redis-server")
    servers = [PrivateRedis().start(), PrivateRedis().start()]
    yield [server.url for server in servers]
    for server in servers:
        server.stop()


async def receive_all(layer, channels, timeout=2):
    """{channel: message or None}, every channel listened to at once, as a server does."""

    async def one(channel):
        try:
            return await asyncio.wait_for(layer.receive(channel), timeout)
        except TimeoutError:
            return None

    return dict(zip(channels, await asyncio.gather(*(one(c) for c in channels)), strict=True))


@pytest.mark.hostile("a channel layer sharded over two Redis servers (channels-redis 4.3.0)",
                     "group_send reaches every socket, but about half the direct sends are "
                     "lost: gs8 uses one Redis with Sentinel instead")
async def test_sharding_loses_direct_sends_but_not_group_sends(two_redis_servers):
    layer = RedisChannelLayer(hosts=two_redis_servers, prefix=f"shard{uuid.uuid4().hex[:8]}")
    try:
        channels = [await layer.new_channel() for _ in range(SOCKETS)]

        for channel in channels:
            await layer.group_add("room", channel)
        await layer.group_send("room", {"type": "chat.message", "text": "to the room"})
        heard = await receive_all(layer, channels)
        assert all(m and m["text"] == "to the room" for m in heard.values())

        for channel in channels:
            await layer.send(channel, {"type": "chat.private", "text": channel})
        heard = await receive_all(layer, channels)
        lost = [channel for channel, message in heard.items() if message is None]
        # Which ones are lost depends on the random names; that some are (about half) does
        # not: the chance that 20 random names all hash the same way is one in half a million.
        assert 0 < len(lost) < SOCKETS
        # Exactly those whose whole name hashes to another server than the part before "!".
        assert set(lost) == {c for c in channels
                             if layer.consistent_hash(c) != layer.consistent_hash(
                                 layer.non_local_name(c))}
    finally:
        await layer.flush()
        await layer.close_pools()


async def test_the_pubsub_layer_shards_by_the_whole_name_and_loses_none(two_redis_servers):
    # RedisPubSubChannelLayer subscribes and publishes with the same hash of the whole name
    # (pubsub.py, _get_shard), so sharding it loses nothing, but it holds no queue: a message
    # published while nobody is subscribed is gone, which is why gs8 does not use it.
    layer = RedisPubSubChannelLayer(hosts=two_redis_servers, prefix=f"ps{uuid.uuid4().hex[:8]}")
    try:
        channels = [await layer.new_channel() for _ in range(SOCKETS)]
        shards = {layer._get_layer()._get_shard(channel) for channel in channels}
        assert len(shards) == 2  # the names are spread over both servers
        for channel in channels:
            await layer.group_add("room", channel)
        await layer.group_send("room", {"type": "chat.message", "text": "to the room"})
        heard = await receive_all(layer, channels)
        assert all(m and m["text"] == "to the room" for m in heard.values())
        for channel in channels:
            await layer.send(channel, {"type": "chat.private", "text": channel})
        heard = await receive_all(layer, channels)
        assert all(message and message["text"] == channel for channel, message in heard.items())
        # Nobody subscribed to this name when it was sent: receiving later finds nothing.
        await layer.send("nobody.listening", {"type": "chat.private", "text": "lost"})
        assert (await receive_all(layer, ["nobody.listening"], timeout=1)) == {
            "nobody.listening": None}
    finally:
        await layer.flush()


async def test_one_server_delivers_every_direct_send(redis_url):
    layer = RedisChannelLayer(hosts=[redis_url], prefix=f"single{uuid.uuid4().hex[:8]}")
    try:
        channels = [await layer.new_channel() for _ in range(SOCKETS)]
        for channel in channels:
            await layer.send(channel, {"type": "chat.private", "text": channel})
        heard = await receive_all(layer, channels)
        assert all(message and message["text"] == channel for channel, message in heard.items())
    finally:
        await layer.flush()
        await layer.close_pools()


@pytest.mark.hostile("Redis stops while 20 sockets of one process wait for messages",
                     "channels-redis's receive() raises; gs8's layer waits, reconnects, tells "
                     "each socket, and every socket gets its next message")
async def test_receivers_wait_out_a_redis_that_goes_away(private_redis):
    prefix = f"away{uuid.uuid4().hex[:8]}"
    plain = RedisChannelLayer(hosts=[private_redis.url], prefix=prefix)
    layer = FailoverRedisChannelLayer(hosts=[private_redis.url], prefix=prefix)
    try:
        # As in a server process: every socket of the process waits in receive() at once, one
        # of them reading Redis for all (the receive lock), the others waiting on it.
        channels = [await layer.new_channel() for _ in range(SOCKETS)]
        waiting = {c: asyncio.create_task(layer.receive(c)) for c in channels}
        unprotected = asyncio.create_task(plain.receive(await plain.new_channel()))
        await asyncio.sleep(0.3)
        private_redis.stop()
        with pytest.raises(redis.exceptions.ConnectionError):
            await asyncio.wait_for(unprotected, 5)  # what killed every socket before
        await asyncio.sleep(1)
        assert not any(task.done() for task in waiting.values())
        private_redis.start()
        for channel in channels:
            await layer.send(channel, {"type": "chat.private", "text": channel})
        # First, each socket is told that Redis was away (what was sent meanwhile is lost);
        # then it reads its messages as before.
        told = await asyncio.wait_for(asyncio.gather(*waiting.values()), 10)
        assert told == [{"type": "layer.recovered"}] * SOCKETS
        heard = await receive_all(layer, channels)
        assert [heard[channel]["text"] for channel in channels] == channels
        # channels-redis's bookkeeping is back to rest: no waiter, no lock, no buffer left.
        assert (layer.receive_count, layer.receive_lock, len(layer.receive_buffer)) == (0, None, 0)
    finally:
        await layer.flush()
        await plain.close_pools()
