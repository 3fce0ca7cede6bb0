"""Redis failing under a real server (`private_redis`: a redis-server of the test's own, stopped
and started again). The database keeps every message, and clients catch up with ?after=."""

import asyncio
import json

import pytest
from chat_clients import handshake_status, manage_py_shell, next_frame, recv_json, ws_join
from test_e2e import database_url, sessions, template  # noqa: F401  (the module's fixtures)

hostile = pytest.mark.hostile

SAVE = """\
from django.contrib.auth.models import User
from chat.models import Message, Room
room, _ = Room.objects.get_or_create(name="restart")
Message.objects.create(room=room, user=User.objects.get(username="bob"), text="saved meanwhile")
"""


@hostile("Redis stops while sockets are open, then comes back empty (no groups, no messages)",
         "open sockets stay open and handshakes are refused (500) while it is down; a "
         "message saved meanwhile is kept (its broadcast fails and is logged); once Redis is "
         "back, open sockets are sent it, a client that reconnects with `?after=` gets it, "
         "and the room works again")
async def test_redis_down_and_restarted(start_server, database_url, private_redis, sessions):  # noqa: F811
    env = {"DATABASE_URL": database_url, "REDIS_URL": private_redis.url}
    server = start_server(env=env, migrate=False)
    old, _ = await ws_join(server, "restart", sessions["alice"])
    await old.send(json.dumps({"message": "before"}))
    last_seen = (await next_frame(lambda: recv_json(old), "message"))["id"]

    private_redis.stop()
    # The layer waits for Redis (chat/layers.py): the open socket stays open. No new socket
    # opens without the layer that would feed it.
    assert await handshake_status(server, session=sessions["bob"]) == 500
    # Other Django code saves a message: on_commit(robust=True) logs the failed broadcast.
    manage_py_shell(SAVE, env)

    private_redis.start()
    # Redis is back, empty: the open socket joins its room again and is sent what it missed.
    caught_up = await next_frame(lambda: recv_json(old), "history")
    assert [(m["user"], m["message"]) for m in caught_up["history"]] == [
        ("bob", "saved meanwhile")]
    alice, first = await ws_join(server, "restart", sessions["alice"],
                                 query=f"?after={last_seen}")
    assert [(m["user"], m["message"]) for m in first["history"]] == [("bob", "saved meanwhile")]
    bob, _ = await ws_join(server, "restart", sessions["bob"])
    await bob.send(json.dumps({"message": "after the restart"}))
    for ws in (old, alice, bob):
        async with asyncio.timeout(10):
            assert (await next_frame(lambda ws=ws: recv_json(ws), "message"))["message"] == (
                "after the restart")
        await ws.close()
