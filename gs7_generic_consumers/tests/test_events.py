"""GET /events/<room>/, the AsyncHttpConsumer, in-process, on both channel layers."""

import asyncio

from clients import Events, group_members, join


async def test_every_broadcast_in_the_room_arrives_as_an_event(channel_layer):
    events, other_room = Events("lobby"), Events("other")
    start = await events.open()
    await other_room.open()
    assert start["status"] == 200
    assert (b"Content-Type", b"text/event-stream") in start["headers"]
    ws, _ = await join("lobby")
    for text in ["hello", "line one\nline two", "<b>é</b>"]:
        await ws.send_json_to({"message": text})
        frame = await ws.receive_from()
        # The event's data is the very frame the websockets got: one line, newlines escaped.
        assert await events.next_data() == frame
    assert await other_room.receive_nothing()
    await ws.disconnect()
    for stream in (events, other_room):
        await stream.send_input({"type": "http.disconnect"})
        await stream.wait()


async def test_a_client_that_goes_away_leaves_no_membership_and_no_task(channel_layer):
    tasks_before = asyncio.all_tasks()
    events = Events("lobby")
    await events.open()
    (member,) = await group_members(channel_layer, "chat_lobby")
    # What the server sends when the client closes the connection.
    await events.send_input({"type": "http.disconnect"})
    # The consumer ends by itself (it is not cancelled): its group_discard ran, and its tasks
    # (one waiting on the client, one on the channel layer) were cancelled and awaited.
    done, _ = await asyncio.wait([events.future], timeout=2)
    assert done and not events.future.cancelled() and events.future.exception() is None
    assert member not in await group_members(channel_layer, "chat_lobby")
    assert asyncio.all_tasks() - tasks_before == set()
    # And the room goes on without it.
    ws, _ = await join("lobby")
    await ws.send_json_to({"message": "anyone?"})
    assert await ws.receive_json_from() == {"message": "anyone?"}
    await ws.disconnect()
