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
from chat_clients import nothing_more, recv_json, ws_join

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
    for ws in (alice, bob, carol):
        await ws.close()


async def test_idle_sockets_keep_receiving(env, start_server):
    # The layer waits for messages with a blocking Redis read that times out every 5 seconds
    # and starts again. Pair redis-py 8 with channels-redis 4.3.0 and that timeout drops the
    # connection: sockets that stay quiet longer than 5 seconds stop receiving. 7 is enough.
    server = start_server(env=env, migrate=False)
    quiet, quiet_name = await ws_join(server, "idle")
    talker, _ = await ws_join(server, "idle")
    await asyncio.sleep(7)
    await talker.send(json.dumps({"message": "still there?"}))
    assert await recv_json(quiet) == {"message": "still there?"}
    assert await recv_json(talker) == {"message": "still there?"}
    # A newcomer after the pause is reached too, directly and through the room.
    newcomer, _ = await ws_join(server, "idle")
    await quiet.send(json.dumps({"message": "yes", "to": quiet_name}))
    assert await recv_json(quiet) == {"message": "yes", "private": True}
    await quiet.send(json.dumps({"message": "welcome"}))
    for ws in (quiet, talker, newcomer):
        assert await recv_json(ws) == {"message": "welcome"}
    for ws in (quiet, talker, newcomer):
        await ws.close()


async def test_a_burst_of_300_connections_loses_nothing(env, start_server):
    # 300 sockets connect (150 handshakes at a time: Daphne drops one that takes over 5 s),
    # each talks, then all 300 leave at once. That is far more Redis commands at the same time
    # than a pool capped at 100 connections (redis-py 8's default) serves, and more unread
    # messages at once than the default capacity of 100 (see gs4/settings.py). Messages are
    # checked while no socket leaves: a socket that closes while the layer reads for its
    # process can, rarely, take another socket's message with it (at most once: see the docs).
    # On a loaded machine a reply can take long: each wait is generous, the whole test bounded.
    server = start_server(env=env, migrate=False)
    watcher, watcher_name = await ws_join(server, "watch")
    handshakes = asyncio.Semaphore(150)

    async def join(n):
        async with handshakes:
            return await ws_join(server, f"burst_{n}")

    async def talk(n, ws):
        await ws.send(json.dumps({"message": f"burst {n}"}))
        assert await recv_json(ws, timeout=60) == {"message": f"burst {n}"}
        await ws.send(json.dumps({"message": f"burst {n}", "to": watcher_name}))

    async with asyncio.timeout(180):
        sockets = await asyncio.gather(*(join(n) for n in range(300)))
        assert len({name for _, name in sockets}) == 300
        await asyncio.gather(*(talk(n, ws) for n, (ws, _) in enumerate(sockets)))
        received = await receive_up_to(watcher, 300, quiet=30)
        missing = {f"burst {n}" for n in range(300)} - {frame["message"] for frame in received}
        # Late or lost? Late ones are still queued in Redis for the server's process.
        assert not missing, f"{len(missing)} never arrived; {await queued(env)} still queued"
        await asyncio.gather(*(ws.close() for ws, _ in sockets))
    assert len(received) == 300 and all(frame["private"] is True for frame in received)
    # Every socket that left took its memberships with it (an empty sorted set is deleted).
    await groups_become(env, {"chat_watch": {watcher_name}, "notifications": {watcher_name}}, 30)
    await watcher.close()
    await groups_become(env, {}, 30)


async def receive_up_to(ws, count, quiet):
    """Up to `count` JSON frames: stops early only after `quiet` seconds without one."""
    frames = []
    try:
        while len(frames) < count:
            frames.append(await recv_json(ws, timeout=quiet))
    except TimeoutError:
        pass
    return frames


async def queued(env):
    """How many messages wait in Redis, unread, under this test's prefix."""
    client = aioredis.from_url(env["REDIS_URL"])
    try:
        keys = [key async for key in client.scan_iter(match=f"{env['CHANNEL_LAYER_PREFIX']}*!*")]
        return sum([await client.zcard(key) for key in keys])
    finally:
        await client.aclose()


async def test_uvicorn_workers_share_rooms(env, start_server):
    # What `make gs4-workers` runs: uvicorn with several processes behind one port.
    server = start_server(env=env, workers=2, migrate=False)
    sockets = []
    # The kernel hands each connection to one of the workers: open sockets until both served.
    async with asyncio.timeout(60):
        while len(sockets) < 40 and len({process_of(name) for _, name in sockets}) < 2:
            sockets.append(await ws_join(server, "workers"))
    assert len({process_of(name) for _, name in sockets}) == 2
    first, _ = sockets[0]
    await first.send(json.dumps({"message": "to every worker"}))
    for ws, _ in sockets:
        assert await recv_json(ws) == {"message": "to every worker"}
    for ws, _ in sockets:
        await ws.close()


# Faults: a Redis of the test's own (private_redis), stopped and started again.


@hostile("Redis is down when a socket connects",
         "the handshake is refused (HTTP 500): no socket opens that could not hear its room")
async def test_with_redis_down_the_handshake_is_refused(private_redis, start_server):
    server = start_server(env={"REDIS_URL": private_redis.url}, migrate=False)
    ws, _ = await ws_join(server)
    private_redis.stop()
    # The consumer joins its groups before accept(): group_add raises, and Daphne answers the
    # handshake with 500 instead of opening a socket.
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with asyncio.timeout(10):
            await websockets.connect(server.ws("/ws/chat/lobby/"), origin=server.origin)
    assert refused.value.response.status_code == 500
    # The socket that was open loses its layer too: its consumer fails and closes it (1011).
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.send(json.dumps({"message": "anyone?"}))
        await recv_json(ws)
    assert closed.value.rcvd.code == 1011


@hostile("Redis restarts while sockets are open (it forgets every group and queued message)",
         "the server recovers: new sockets work; each old socket is closed (1011) or hears its "
         "room no more, so a client must reconnect")
async def test_after_a_redis_restart_new_sockets_work(private_redis, start_server):
    server = start_server(env={"REDIS_URL": private_redis.url}, migrate=False)
    old = [(await ws_join(server, "restart"))[0] for _ in range(5)]
    private_redis.stop()
    private_redis.start()
    alice, _ = await ws_join(server, "restart")
    bob, bob_name = await ws_join(server, "restart")
    await alice.send(json.dumps({"message": "after the restart"}))
    for ws in (alice, bob):
        assert await recv_json(ws) == {"message": "after the restart"}
    await alice.send(json.dumps({"message": "just bob", "to": bob_name}))
    assert await recv_json(bob) == {"message": "just bob", "private": True}
    # The old sockets were in groups that Redis no longer has. Some consumers fail with the
    # connection and close their socket; others live on, in no group: deaf to their room.
    for ws in old:
        try:
            frame = await asyncio.wait_for(ws.recv(), 0.5)
        except TimeoutError:
            continue  # deaf
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd.code == 1011
            continue
        raise AssertionError(f"an old socket still hears its room: {frame!r}")
    for ws in (alice, bob):
        await ws.close()
