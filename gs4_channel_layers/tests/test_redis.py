"""Real servers on a real Redis: what only a shared channel layer can do.

Every test gives its servers (and the notify command) a key prefix of its own through
CHANNEL_LAYER_PREFIX, so runs in parallel never share a room.
"""

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
import websockets
from chat_clients import burst, nothing_more, recv_json, ws_join

from testkit.servers import server_env

LESSON = Path(__file__).resolve().parent.parent
hostile = pytest.mark.hostile


@pytest.fixture
def env(redis_url, prefix):
    """The environment of this test's servers; its Redis keys are deleted afterwards.

    Tests ask for it before start_server: fixtures end in reverse order, so the servers have
    stopped writing by the time the keys are deleted."""
    yield {"REDIS_URL": redis_url, "CHANNEL_LAYER_PREFIX": prefix}
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


def notify(text, env):
    """`python manage.py notify TEXT` in its own process, as a learner runs it."""
    return subprocess.run(
        [sys.executable, "manage.py", "notify", text], cwd=LESSON, env=server_env(env),
        capture_output=True, text=True, timeout=60,
    )


async def groups(env):
    """{group: its channel names} for this test's layer, read straight from Redis, where
    channels_redis keeps each group as a sorted set named "<prefix>:group:<group>"."""
    prefix = f"{env['CHANNEL_LAYER_PREFIX']}:group:"
    client = aioredis.from_url(env["REDIS_URL"])
    try:
        return {
            key.decode().removeprefix(prefix): {m.decode() for m in await client.zrange(key, 0, -1)}
            async for key in client.scan_iter(match=prefix + "*")
        }
    finally:
        await client.aclose()


async def groups_become(env, expected, timeout=10):
    """Wait until the groups are `expected`: a server runs disconnect() soon after a close,
    not before the client's close() returns."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (found := await groups(env)) != expected and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    assert found == expected


def process_of(channel_name):
    # "specific.<process id>!<connection id>": the part before "!" names the server process.
    return channel_name.split("!")[0]


async def test_two_server_processes_share_rooms_and_direct_messages(env, start_server):
    # The chat never touches the database: no migrate step before each server.
    first = start_server(env=env, migrate=False)
    second = start_server(env=env, migrate=False)
    alice, alice_name = await ws_join(first, "room_a")
    bob, bob_name = await ws_join(second, "room_a")
    carol, _ = await ws_join(second, "room_b")
    assert process_of(alice_name) != process_of(bob_name)

    await alice.send(json.dumps({"message": "from the first server"}))
    assert await recv_json(bob) == {"message": "from the first server"}
    assert await recv_json(alice) == {"message": "from the first server"}
    await bob.send(json.dumps({"message": "from the second server"}))
    assert await recv_json(alice) == {"message": "from the second server"}
    assert await recv_json(bob) == {"message": "from the second server"}
    assert await nothing_more(carol)

    await bob.send(json.dumps({"message": "across processes, just you", "to": alice_name}))
    assert await recv_json(alice) == {"message": "across processes, just you", "private": True}
    assert await nothing_more(bob) and await nothing_more(carol)

    # The management command is a third process: every socket on both servers hears it.
    done = notify("<i>maintenance</i> at noon", env)
    assert done.returncode == 0, done.stderr
    for ws in (alice, bob, carol):
        assert await recv_json(ws) == {"notification": "<i>maintenance</i> at noon"}
    assert (await groups(env))["chat_room_a"] == {alice_name, bob_name}
    # Closed sockets leave every group, on both servers: nothing is left in Redis.
    for ws in (alice, bob, carol):
        await ws.close()
    await groups_become(env, {})


@hostile("a frame of 1 MiB to uvicorn (`make gs4-workers` passes `--ws-max-size 1048575`)",
         "uvicorn closes the connection (1009, or a drop while the frame is still being sent); "
         "the others are served and a new connection works")
async def test_uvicorn_workers_share_rooms(env, start_server):
    # What `make gs4-workers` runs: uvicorn with several processes behind one port.
    server = start_server(env=env, workers=2, migrate=False)
    sockets = []
    # The kernel hands each connection to a worker that is accepting: open sockets until both
    # have served one (a worker still starting Django serves none yet), keeping one per worker.
    async with asyncio.timeout(60):
        while len({process_of(name) for _, name in sockets}) < 2:
            ws, name = await ws_join(server, "workers")
            if process_of(name) in {process_of(seen) for _, seen in sockets}:
                await ws.close()
                await asyncio.sleep(0.2)
            else:
                sockets.append((ws, name))
    assert len({process_of(name) for _, name in sockets}) == 2
    first, _ = sockets[0]
    await first.send(json.dumps({"message": "to every worker"}))
    for ws, _ in sockets:
        assert await recv_json(ws) == {"message": "to every worker"}

    # A frame of 1 MiB never reaches a consumer: uvicorn drops it (--ws-max-size).
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await first.send(json.dumps({"message": "x" * (1024 * 1024)}))
        await recv_json(first)
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
    newcomer, _ = await ws_join(server, "workers")
    await newcomer.send(json.dumps({"message": "after the big one"}))
    for ws, _ in [*sockets[1:], (newcomer, None)]:
        assert await recv_json(ws) == {"message": "after the big one"}
    for ws, _ in [*sockets, (newcomer, None)]:
        await ws.close()


async def test_a_busy_room_loses_nothing_on_redis(env, start_server):
    # The same burst as on the in-memory layer, through Redis: gs4/settings.py sizes both.
    server = start_server(env=env, migrate=False)
    await burst(server, "busy", sockets=10, messages=20)
