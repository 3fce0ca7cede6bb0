"""The chat behind a login when Redis fails, in-process, on a redis-server of the test's own
(`private_redis`, stopped and started again). The database keeps what was acknowledged."""

import asyncio

import pytest
import redis
from chat_clients import communicator, join, receive_said, stored

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_database_connections"),
]
hostile = pytest.mark.hostile


def private_layer(url):
    """A Redis channel layer on the test's own redis-server: no other test shares it."""
    return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                        "CONFIG": {"hosts": [url]}}}


@hostile("Redis is down when a logged-in socket connects",
         "the handshake is refused (HTTP 500 from a real server): the consumer fails in "
         "`group_add`, before `accept()`")
async def test_with_redis_down_the_handshake_is_refused(settings, private_redis, alice_session):
    settings.CHANNEL_LAYERS = private_layer(private_redis.url)
    private_redis.stop()
    chat = communicator("lobby", alice_session)
    await chat.send_input({"type": "websocket.connect"})
    # The consumer ends with the error, and it had sent nothing: no websocket.accept.
    with pytest.raises(redis.ConnectionError):
        async with asyncio.timeout(10):
            await chat.future
    assert chat.output_queue.empty()


@hostile("Redis restarts while sockets are open (it forgets every group and queued message)",
         "new sockets work and their messages are stored; old sockets no longer hear their room")
async def test_after_a_redis_restart_new_sockets_work(settings, private_redis, alice_session):
    settings.CHANNEL_LAYERS = private_layer(private_redis.url)
    old, _ = await join("lobby", alice_session)
    private_redis.stop()
    private_redis.start()
    alice, _ = await join("lobby", alice_session)
    other, _ = await join("lobby", alice_session)
    await alice.send_json_to({"message": "after the restart"})
    assert await receive_said(other) == ("alice", "after the restart")
    assert await receive_said(alice) == ("alice", "after the restart")
    assert await stored("lobby") == [("alice", "after the restart")]
    # The old socket's consumer failed with the connection, or lives on in no group.
    with pytest.raises((TimeoutError, redis.ConnectionError)):
        await old.receive_from(0.5)
    await alice.disconnect()
    await other.disconnect()
