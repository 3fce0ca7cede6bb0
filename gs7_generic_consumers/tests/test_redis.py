"""The room chats when Redis fails, in-process, on a redis-server of the test's own
(`private_redis`, stopped and started again), for the async consumer and its sync twin."""

import asyncio
import uuid

import pytest
import redis
from channels.testing import WebsocketCommunicator

from gs7.asgi import application

ORIGIN = b"http://127.0.0.1:8000"
CHATS = ["/ws/ajwc/", "/ws/jwc/"]
hostile = pytest.mark.hostile


@pytest.fixture
def private_layer(settings, private_redis):
    """The project's channel layer on the test's own redis-server: no other test shares it."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [private_redis.url]}}}
    return private_redis


def chat_socket(chat, room):
    return WebsocketCommunicator(application, f"{chat}{room}/", headers=[(b"origin", ORIGIN)])


@hostile("Redis is down when a socket connects to a room",
         "the handshake is refused (HTTP 500 from a real server): the consumer fails in "
         "`group_add`, before `accept()`")
@pytest.mark.parametrize("chat", CHATS)
async def test_with_redis_down_the_handshake_is_refused(private_layer, chat):
    private_layer.stop()
    communicator = chat_socket(chat, "lobby")
    await communicator.send_input({"type": "websocket.connect"})
    # The consumer ends with the error, and it had sent nothing: no websocket.accept.
    with pytest.raises(redis.ConnectionError):
        async with asyncio.timeout(10):
            await communicator.future
    assert communicator.output_queue.empty()


@hostile("Redis restarts while sockets are open (it forgets every group and queued message)",
         "new sockets work; old sockets no longer hear their room")
@pytest.mark.parametrize("chat", CHATS)
async def test_after_a_redis_restart_new_sockets_work(private_layer, chat):
    room = f"room-{uuid.uuid4().hex[:12]}"
    old = chat_socket(chat, room)
    assert (await old.connect())[0]
    private_layer.stop()
    private_layer.start()
    sockets = [chat_socket(chat, room) for _ in range(2)]
    for communicator in sockets:
        assert (await communicator.connect(timeout=5))[0]
    await sockets[0].send_json_to({"message": "after the restart"})
    for communicator in sockets:
        assert await communicator.receive_json_from(5) == {"message": "after the restart"}
    # The old socket's consumer failed with the connection, or lives on in no group.
    with pytest.raises((TimeoutError, redis.ConnectionError)):
        await old.receive_from(0.5)
    for communicator in sockets:
        await communicator.disconnect()
