"""The chat behind a login, and who is online, in-process (WebsocketCommunicator).

Each socket logs in as a browser does: the session cookie of a user that Django's test client
logged in (conftest.py), sent with the page's Origin, through the whole stack of gs6/asgi.py.
transaction=True, as in gs5: the consumer reads and writes in worker threads, on connections
of their own, so the test's rows must really be committed.
"""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from chat_clients import communicator, join, next_frame, next_said, next_users, refused
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from chat.models import Message, Presence

LAYERS = ["InMemoryChannelLayer", "RedisChannelLayer"]
hostile = pytest.mark.hostile

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("channel_layer")]


@database_sync_to_async
def stored(room):
    """[(username, text)] saved for `room`, oldest first."""
    rows = Message.objects.filter(room__name=room).order_by("id")
    return list(rows.values_list("user__username", "text"))


@database_sync_to_async
def presence_rows():
    return list(Presence.objects.order_by("id").values_list("room", "user__username"))


async def leave(*chats):
    for chat in chats:
        await chat.disconnect()


@hostile("an anonymous handshake: no cookie, or a session key that names no session",
         "refused at the handshake (403); the socket never opens, nothing is listed")
@pytest.mark.parametrize("session", [None, "x" * 32], ids=["no cookie", "unknown session"])
async def test_an_anonymous_handshake_is_refused(session):
    assert await refused(communicator("lobby", session))
    assert await presence_rows() == []


@hostile("a valid session cookie sent from another site's page (cross-site websocket "
         "hijacking): `Origin: http://evil.example`, `http://127.0.0.1.evil.test`",
         "refused at the handshake (403), before the session is read")
@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1.evil.test"])
async def test_a_foreign_origin_is_refused_even_with_a_valid_session(alice, origin):
    assert await refused(communicator("lobby", alice, origin=origin))


@hostile("a frame that claims another user: `{\"message\": ..., \"user\": \"bob\"}`",
         "ignored: stored and sent under the session's user")
async def test_each_message_says_and_stores_who_sent_it_from_the_session_only(alice, bob):
    alices, _, _ = await join("lobby", alice)
    bobs, _, _ = await join("lobby", bob)
    await alices.send_json_to({"message": "<b>hi</b>", "user": "bob"})
    await bobs.send_json_to({"message": "hello alice"})
    heard = [[await next_said(chat), await next_said(chat)] for chat in (alices, bobs)]
    # Both hear both, in the order they were stored.
    assert heard[0] == heard[1] == await stored("lobby")
    assert sorted(heard[0]) == [("alice", "<b>hi</b>"), ("bob", "hello alice")]
    # Someone who comes later reads who said what in the history.
    later, first, _ = await join("lobby", bob)
    assert [(m["user"], m["message"]) for m in first["history"]] == await stored("lobby")
    await leave(alices, bobs, later)


async def test_a_private_message_says_who_sent_it(alice, bob):
    alices, _, _ = await join("lobby", alice)
    bobs, bobs_first, _ = await join("lobby", bob)
    await alices.send_json_to({"message": "psst", "to": bobs_first["channel_name"], "user": "x"})
    assert await bobs.receive_json_from(5) == {"user": "alice", "message": "psst", "private": True}
    await leave(alices, bobs)


@hostile("not JSON, a binary frame, no message, a blank one, 1001 characters",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
@pytest.mark.parametrize(
    "event",
    [{"text": "hello"}, {"bytes": b'{"message": "hi"}'}, {"text": '{"user": "bob"}'},
     {"text": '{"message": " "}'}, {"text": '{"message": "' + "x" * 1001 + '"}'}],
    ids=["not-json", "binary", "no-message", "blank", "1001-chars"],
)
async def test_a_bad_frame_gets_an_error_and_nothing_is_stored(alice, event):
    chat, _, _ = await join("lobby", alice)
    await chat.send_input({"type": "websocket.receive", **event})
    assert set(await chat.receive_json_from(5)) == {"error"}
    await chat.send_json_to({"message": "still here"})
    assert await next_said(chat) == ("alice", "still here")
    assert await stored("lobby") == [("alice", "still here")]
    await leave(chat)


@hostile("a session cookie after its user logged out",
         "refused at the handshake: logging out deleted the session")
async def test_after_logout_the_old_session_cookie_no_longer_opens_a_socket(carol_browser):
    cookie = carol_browser.cookies["sessionid"].value
    chat, _, _ = await join("lobby", cookie)
    await leave(chat)
    # Django's logout view (POST /accounts/logout/) deletes the session from the database.
    await database_sync_to_async(carol_browser.post)("/accounts/logout/")
    assert await refused(communicator("lobby", cookie))


@pytest.fixture
def carol_browser(transactional_db):
    """Django's test client, logged in as carol (a sync fixture: the ORM may run here)."""
    browser = Client()
    browser.force_login(User.objects.create_user("carol"))
    return browser


# Who is online.


async def test_every_socket_gets_the_list_when_it_joins_and_whenever_it_changes(alice, bob):
    alices, _, users = await join("lobby", alice)
    assert users == ["alice"]
    bobs, _, users = await join("lobby", bob)
    assert users == ["alice", "bob"]
    assert await next_users(alices) == ["alice", "bob"]
    # Another room has a list of its own.
    elsewhere, _, users = await join("elsewhere", bob)
    assert users == ["bob"]
    assert await alices.receive_nothing() and await bobs.receive_nothing()
    await leave(bobs)
    assert await next_users(alices) == ["alice"]
    await leave(alices, elsewhere)
    assert await presence_rows() == []


async def test_a_user_with_several_tabs_is_listed_once_until_the_last_one_closes(alice, bob):
    bobs, _, _ = await join("lobby", bob)
    tabs = [await join("lobby", alice) for _ in range(3)]
    assert [users for _, _, users in tabs] == [["alice", "bob"]] * 3
    # The list changed once, when alice's first tab came, so bob heard it once.
    assert await next_users(bobs) == ["alice", "bob"]
    assert await bobs.receive_nothing()
    await leave(*(chat for chat, _, _ in tabs[:2]))
    assert await bobs.receive_nothing()  # alice is still here, in her last tab
    await leave(tabs[2][0])
    assert await next_users(bobs) == ["bob"]
    await leave(bobs)


@hostile("a socket whose server process died: its row stays, its disconnect() never runs",
         "dropped from the list once its row is PRESENCE_EXPIRY seconds old")
async def test_a_socket_of_a_dead_process_drops_off_the_list(settings, alice, bob):
    settings.PRESENCE_HEARTBEAT, settings.PRESENCE_EXPIRY = 0.2, 1
    # bob's socket on a process that is about to die: a row, and nothing that will refresh it.
    await database_sync_to_async(Presence.objects.mark_present)(
        "lobby", await User.objects.aget(username="bob"), "specific.dead!process"
    )
    alices, _, users = await join("lobby", alice)
    assert users == ["alice", "bob"]
    # alice's heartbeat keeps her row fresh, finds bob's stale and deletes it.
    assert await next_users(alices, timeout=10) == ["alice"]
    assert await presence_rows() == [("lobby", "alice")]
    await leave(alices)


async def test_a_closed_socket_stops_its_heartbeat(settings, alice):
    settings.PRESENCE_HEARTBEAT = 0.05
    chat, _, _ = await join("lobby", alice)
    await leave(chat)
    # A heartbeat left running would write the row again, and keep alice online for ever.
    await asyncio.sleep(0.3)
    assert await presence_rows() == []


@hostile("a consumer that ends on an error in a handler, so disconnect() never runs "
         "(django/channels#1466)", "its heartbeat ends with it: dropped from the list after "
         "PRESENCE_EXPIRY")
async def test_a_consumer_that_crashed_does_not_stay_online(settings, channel_layer, alice, bob):
    settings.PRESENCE_HEARTBEAT, settings.PRESENCE_EXPIRY = 0.05, 0.5
    alices, first, _ = await join("lobby", alice)
    # An event no handler exists for: dispatch() raises, and the consumer ends right there.
    await channel_layer.send(first["channel_name"], {"type": "no.such.handler"})
    with pytest.raises(ValueError, match="No handler for message type"):
        await alices.wait(5)
    await asyncio.sleep(1)  # twice PRESENCE_EXPIRY: a heartbeat still running would show
    bobs, _, users = await join("lobby", bob)
    assert users == ["bob"]
    await leave(bobs)


@pytest.mark.parametrize("channel_layer", LAYERS, indirect=True)
async def test_sockets_sending_bursts_at_once_all_hear_every_message(channel_layer, alice, bob):
    sockets = [(await join("busy", session))[0] for session in [alice, bob] * 5]
    # Every socket sends its whole burst at once, without waiting for any answer.
    for s, chat in enumerate(sockets):
        for n in range(10):
            await chat.send_json_to({"message": f"socket {s} message {n}"})

    async def hear(chat):
        return [await next_said(chat, timeout=10) for _ in range(100)]

    heard = await asyncio.gather(*(hear(chat) for chat in sockets))
    assert all(frames == heard[0] for frames in heard)
    assert heard[0] == await stored("busy")
    assert len(set(heard[0])) == 100
    await leave(*sockets)


@pytest.mark.parametrize("channel_layer", ["RedisChannelLayer"], indirect=True)
async def test_notify_reaches_every_logged_in_socket(alice, bob):
    sockets = [(await join(room, session))[0] for room, session in [("a", alice), ("b", bob)]]
    await sync_to_async(call_command)("notify", "the server restarts at noon")
    for chat in sockets:
        frame = await next_frame(chat.receive_json_from, "notification")
        assert frame == {"notification": "the server restarts at noon"}
    await leave(*sockets)
