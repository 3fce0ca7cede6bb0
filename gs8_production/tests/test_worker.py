"""The background worker (chat/workers.py): a message that says "@bob" reaches bob's sockets in
every room as {"mention": ...}, found by `runworker chat-mentions`, not by the sockets' servers.

In-process: Channels' own Worker (what `manage.py runworker` runs) on the in-memory layer, the
chat through WebsocketCommunicator. Through real processes on Redis: tests/test_stack.py.
"""

import asyncio

import pytest
from channels.worker import Worker
from chat_clients import join

from chat.workers import MENTIONS_CHANNEL
from gs8.asgi import application

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_database_connections"),
]


async def next_with(chat, key, timeout=5):
    """The next frame with `key`, skipping who is online (and, for a mention, the room's
    messages). A mention in between the messages a test waits for fails it."""
    while True:
        frame = await chat.receive_json_from(timeout)
        if key in frame:
            return frame
        assert "users" in frame or key == "mention", frame


@pytest.fixture
async def worker(channel_layer):
    """`manage.py runworker chat-mentions`, in this process: it reads the channel, and runs
    gs8.asgi's "channel" route (ChannelNameRouter) for each job."""
    running = asyncio.create_task(Worker(application, [MENTIONS_CHANNEL], channel_layer).handle())
    yield
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)


@pytest.mark.usefixtures("worker")
async def test_a_mention_reaches_every_socket_of_the_mentioned_user(alice, bob):
    alice_ws, _, _ = await join("lobby", alice)
    bob_here, _, _ = await join("lobby", bob)
    bob_elsewhere, _, _ = await join("kitchen", bob)
    await alice_ws.send_json_to({"message": "lunch, @bob?"})
    for chat in (bob_here, bob_elsewhere):
        mention = (await next_with(chat, "mention"))["mention"]
        assert {k: mention[k] for k in ("room", "user", "message")} == {
            "room": "lobby", "user": "alice", "message": "lunch, @bob?"}
    # Naming yourself, or nobody who exists, notifies no one. The worker does one job at a
    # time: once bob hears of the next message, the one before is done.
    await alice_ws.send_json_to({"message": "me, @alice, and @nobody"})
    await alice_ws.send_json_to({"message": "@bob again"})
    assert (await next_with(bob_here, "mention"))["mention"]["message"] == "@bob again"
    frames = [await next_with(alice_ws, "message") for _ in range(3)]
    assert [f["message"] for f in frames] == ["lunch, @bob?", "me, @alice, and @nobody",
                                              "@bob again"]
    assert await alice_ws.receive_nothing(0.5)  # and no mention came for alice
    for chat in (alice_ws, bob_here, bob_elsewhere):
        await chat.disconnect()


async def test_without_a_worker_messages_still_flow_and_jobs_wait(alice, bob, channel_layer):
    # No worker running: the room is not slowed or broken; the job waits on the channel.
    alice_ws, _, _ = await join("lobby", alice)
    bob_ws, _, _ = await join("lobby", bob)
    await alice_ws.send_json_to({"message": "@bob are you there?"})
    assert (await next_with(bob_ws, "message"))["message"] == "@bob are you there?"
    job = await asyncio.wait_for(channel_layer.receive(MENTIONS_CHANNEL), 5)
    assert job["type"] == "mentions.find"
    for chat in (alice_ws, bob_ws):
        await chat.disconnect()
