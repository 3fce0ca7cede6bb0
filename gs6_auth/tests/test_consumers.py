"""The chat behind a login, in-process (WebsocketCommunicator), on a real test database.

Two ways to give a test socket a user:
- through the whole stack (origin check, AuthMiddlewareStack): a real session, made by Django's
  test client (`alice_session`, conftest.py) or by channels.auth.login, sent as the cookie;
- past the middleware: the consumer's URLRouter alone, with scope["user"] set by the test.

transaction=True, as in gs5: the session, the user and the messages are read and written by
worker threads on their own connections, so the test's rows must really be committed.
"""

import json

import pytest
from channels.auth import login
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from chat_clients import communicator, group_members, join, receive_said, refused, said, stored
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from chat.consumers import NOTIFICATIONS_GROUP
from chat.routing import websocket_urlpatterns

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("channel_layer", "close_database_connections"),
]


async def test_an_anonymous_handshake_is_refused(channel_layer):
    assert await refused(communicator("lobby"))
    # Refused before it joined anything: no group holds a channel for it.
    assert await group_members(channel_layer, "chat_lobby") == set()
    assert await group_members(channel_layer, NOTIFICATIONS_GROUP) == set()


@pytest.mark.parametrize("cookie", ["nonsense", "x" * 32], ids=["nonsense", "unknown key"])
async def test_a_session_cookie_that_names_no_session_is_refused(cookie):
    assert await refused(communicator("lobby", session=cookie))


async def test_a_logged_in_socket_speaks_under_its_own_name(alice_session, bob_session):
    alice, _ = await join("room_a", alice_session)
    bob, _ = await join("room_a", bob_session)
    await alice.send_json_to({"message": "<b>hello</b>"})
    assert await receive_said(bob) == ("alice", "<b>hello</b>")
    assert await receive_said(alice) == ("alice", "<b>hello</b>")
    await bob.send_json_to({"message": "hi alice"})
    assert await receive_said(alice) == ("bob", "hi alice")
    assert await receive_said(bob) == ("bob", "hi alice")
    assert await stored("room_a") == [("alice", "<b>hello</b>"), ("bob", "hi alice")]
    await alice.disconnect()
    await bob.disconnect()


@pytest.mark.parametrize("claim", ["bob", "admin", "", None, {"username": "bob"}])
async def test_a_user_key_sent_by_the_client_is_ignored(alice_session, bob, claim):
    alice, _ = await join("lobby", alice_session)
    await alice.send_json_to({"message": "who am I?", "user": claim})
    assert await receive_said(alice) == ("alice", "who am I?")
    assert await stored("lobby") == [("alice", "who am I?")]
    # A "user" key alone is not a message.
    await alice.send_json_to({"user": "bob"})
    assert "error" in await alice.receive_json_from(5)
    await alice.disconnect()


async def test_the_history_says_who_said_what(alice_session, bob_session):
    alice, _ = await join("lobby", alice_session)
    for text in ("one", "two"):
        await alice.send_json_to({"message": text})
        await receive_said(alice)
    await alice.disconnect()
    bob, first = await join("lobby", bob_session)
    assert said(first["history"]) == [("alice", "one"), ("alice", "two")]
    await bob.disconnect()


async def test_a_private_message_says_who_sent_it(alice_session, bob_session):
    alice, _ = await join("lobby", alice_session)
    bob, bob_first = await join("lobby", bob_session)
    await alice.send_json_to({"message": "psst", "to": bob_first["channel_name"], "user": "x"})
    assert await bob.receive_json_from(5) == {"user": "alice", "message": "psst", "private": True}
    assert await alice.receive_nothing()
    await alice.disconnect()
    await bob.disconnect()


@pytest.mark.parametrize(
    "frame", ["nope", "[]", '{"message": "   "}', json.dumps({"message": "x" * 1001}), "{}"]
)
async def test_bad_frames_get_an_error_and_nothing_is_stored(alice_session, frame):
    alice, _ = await join("lobby", alice_session)
    await alice.send_input({"type": "websocket.receive", "text": frame})
    assert set(await alice.receive_json_from(5)) == {"error"}
    assert await stored("lobby") == []
    await alice.disconnect()


@pytest.fixture
def alice_browser(alice):
    """Django's test client, logged in as alice (a sync fixture: the ORM may run here)."""
    browser = Client()
    browser.force_login(alice)
    return browser


async def test_after_logout_the_old_session_cookie_no_longer_opens_a_socket(alice_browser):
    cookie = alice_browser.cookies[settings.SESSION_COOKIE_NAME].value
    chat, _ = await join("lobby", cookie)
    await chat.disconnect()
    # Django's logout deletes the session from the database: the cookie now names nothing.
    await database_sync_to_async(alice_browser.logout)()
    assert await refused(communicator("lobby", cookie))


async def test_a_password_change_ends_the_old_sessions(alice, alice_session):
    # Each session keeps a hash of the password it was made with (get_session_auth_hash).
    alice.set_password("a brand new passphrase, also not real")
    await database_sync_to_async(alice.save)()
    assert await refused(communicator("lobby", alice_session))


async def test_an_inactive_user_is_refused(alice, alice_session):
    alice.is_active = False
    await database_sync_to_async(alice.save)()
    assert await refused(communicator("lobby", alice_session))


@pytest.mark.parametrize("origin", ["http://evil.example", None], ids=["another site", "none"])
async def test_a_foreign_origin_is_refused_even_with_a_valid_session(alice_session, origin):
    # Cross-site websocket hijacking: another site's page cannot borrow the visitor's cookie.
    assert await refused(communicator("lobby", alice_session, origin=origin))


async def test_a_session_made_by_channels_auth_login_opens_a_socket(alice):
    # channels.auth.login writes the user into a session in the scope. It is for logging in
    # *over* a websocket; here it makes a session without any HTTP request.
    scope = {"session": SessionStore()}
    await login(scope, alice, backend="django.contrib.auth.backends.ModelBackend")
    # login() does not save the session: a consumer (or this test) must.
    await database_sync_to_async(scope["session"].save)()
    chat, _ = await join("lobby", scope["session"].session_key)
    await chat.send_json_to({"message": "in by channels.auth.login"})
    assert await receive_said(chat) == ("alice", "in by channels.auth.login")
    await chat.disconnect()


# Past the middleware: the router alone, with scope["user"] set by the test.


async def test_a_user_put_in_the_scope_by_the_test_is_the_sender(alice):
    chat = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/chat/lobby/")
    chat.scope["user"] = alice
    connected, _ = await chat.connect(timeout=5)
    assert connected
    assert set(await chat.receive_json_from(5)) == {"history", "channel_name"}
    await chat.send_json_to({"message": "no cookie needed"})
    assert await receive_said(chat) == ("alice", "no cookie needed")
    await chat.disconnect()


async def test_an_anonymous_user_in_the_scope_is_refused():
    chat = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/chat/lobby/")
    chat.scope["user"] = AnonymousUser()
    assert await refused(chat)
