"""The chat behind a login, in-process (WebsocketCommunicator), on a real test database.

Two ways to give a test socket a user:
- through the whole stack (origin check, AuthMiddlewareStack): a real session, made by Django's
  test client (`alice_session`, conftest.py) or by channels.auth.login, sent as the cookie;
- past the middleware: the consumer's URLRouter alone, with scope["user"] set by the test.

transaction=True, as in gs5: the session, the user and the messages are read and written by
worker threads on their own connections, so the test's rows must really be committed.
"""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack, login
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator
from chat_clients import communicator, group_members, join, receive_said, refused, said, stored
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import CommandError, call_command
from django.test import Client

from chat.consumers import MAX_MESSAGE_LENGTH, NOTIFICATIONS_GROUP
from chat.flood import FLOOD_CLOSE_CODE, FLOOD_ERROR
from chat.routing import websocket_urlpatterns

hostile = pytest.mark.hostile

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("channel_layer", "close_database_connections"),
]


@hostile("an anonymous handshake (no session cookie)",
         "refused at the handshake (403), before the socket joins any group")
async def test_an_anonymous_handshake_is_refused(channel_layer):
    assert await refused(communicator("lobby"))
    # Refused before it joined anything: no group holds a channel for it.
    assert await group_members(channel_layer, "chat_lobby") == set()
    assert await group_members(channel_layer, NOTIFICATIONS_GROUP) == set()


@hostile("a session cookie that names no session: made up, or an unknown key",
         "refused at the handshake (403)")
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


@hostile("a frame that claims another user: `{\"message\": ..., \"user\": \"bob\"}`",
         "ignored: the message is stored and sent under the session's user")
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


async def error_and_nothing_stored(session, event):
    """Send one raw frame event from a logged-in socket: it alone gets {"error": ...}, nothing
    is stored, and both sockets still talk afterwards. Returns the error."""
    alice, _ = await join("lobby", session)
    other, _ = await join("lobby", session)
    # send_to() refuses empty text, so send the raw ASGI event a server would.
    await alice.send_input({"type": "websocket.receive", **event})
    reply = await alice.receive_json_from(5)
    assert set(reply) == {"error"} and isinstance(reply["error"], str) and reply["error"]
    assert await other.receive_nothing()
    assert await stored("lobby") == []
    await alice.send_json_to({"message": "after the error"})
    assert await receive_said(other) == ("alice", "after the error")
    assert await stored("lobby") == [("alice", "after the error")]
    await alice.disconnect()
    await other.disconnect()
    return reply["error"]


@hostile("malformed JSON: `hello`, `{\"message\": \"hi\"`",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
@pytest.mark.parametrize("frame", ["hello", '{"message": "hi"'], ids=["words", "unclosed"])
async def test_malformed_json_gets_an_error_and_nothing_is_stored(alice_session, frame):
    assert "not JSON" in await error_and_nothing_stored(alice_session, {"text": frame})


@hostile("JSON nested thousands deep: `[[[[...`",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
async def test_json_nested_too_deeply_gets_an_error_and_nothing_is_stored(alice_session):
    await error_and_nothing_stored(alice_session, {"text": '{"message": ' + "[" * 5000})


@hostile("JSON that is not an object: `[\"message\", \"hi\"]`, `\"hi\"`, `null`",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
@pytest.mark.parametrize("frame", ['["message", "hi"]', '"hi"', "null"])
async def test_json_that_is_not_an_object_gets_an_error_and_nothing_is_stored(
    alice_session, frame
):
    assert "JSON object" in await error_and_nothing_stored(alice_session, {"text": frame})


@hostile("an empty text frame",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
async def test_an_empty_text_frame_gets_an_error_and_nothing_is_stored(alice_session):
    await error_and_nothing_stored(alice_session, {"text": ""})


@hostile("an object that is not a valid message: no `message` (a `user` alone), not a string, "
         "empty, only whitespace, 1001 characters, a lone surrogate",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
@pytest.mark.parametrize(
    "frame",
    [
        "{}",
        json.dumps({"user": "bob"}),
        json.dumps({"message": 5}),
        json.dumps({"message": ""}),
        json.dumps({"message": " \t\n\u00a0 "}),
        json.dumps({"message": "x" * (MAX_MESSAGE_LENGTH + 1)}),
        '{"message": "\\ud800"}',
    ],
    ids=["empty object", "a user alone", "number", "empty", "whitespace", "too long",
         "lone surrogate"],
)
async def test_an_invalid_message_gets_an_error_and_nothing_is_stored(alice_session, frame):
    await error_and_nothing_stored(alice_session, {"text": frame})


@hostile("a `to` that is not a consumer's channel name: a number, a group name",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
@pytest.mark.parametrize("to", [5, "chat_lobby"], ids=["number", "group name"])
async def test_an_invalid_to_gets_an_error_and_nothing_is_stored(alice_session, to):
    frame = json.dumps({"message": "hi", "to": to})
    await error_and_nothing_stored(alice_session, {"text": frame})


@hostile("a frame of 64 KiB: valid JSON, its message far too long",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
async def test_a_frame_of_64_kib_gets_an_error_and_nothing_is_stored(alice_session):
    frame = json.dumps({"message": "x" * (64 * 1024)})
    assert "at most" in await error_and_nothing_stored(alice_session, {"text": frame})


@hostile("a binary frame",
         "`{\"error\": ...}` to the sender only; nothing is stored; the socket stays open")
@pytest.mark.parametrize("data", [b"\x00\xff", b'{"message": "hi"}', b""], ids=repr)
async def test_binary_frames_get_an_error_and_nothing_is_stored(alice_session, data):
    assert "binary" in await error_and_nothing_stored(alice_session, {"bytes": data})


@hostile("a frame that names an event type: `{\"type\": \"chat.notification\" (or "
         "\"websocket.disconnect\", \"websocket.close\", \"chat.message\", \"no.such.handler\"), "
         "\"message\": ...}`",
         "an ordinary message, stored and sent to the room; the client chooses no handler")
@pytest.mark.parametrize(
    "kind",
    ["chat.notification", "websocket.disconnect", "websocket.close", "chat.message",
     "no.such.handler"],
)
async def test_a_client_cannot_choose_the_handler(alice_session, kind):
    alice, _ = await join("lobby", alice_session)
    other, _ = await join("lobby", alice_session)
    # "type" from the client is just an extra key: the consumer writes the event's own type.
    await alice.send_json_to({"type": kind, "message": "typed", "user": "bob"})
    assert await receive_said(other) == ("alice", "typed")
    assert await receive_said(alice) == ("alice", "typed")
    assert await stored("lobby") == [("alice", "typed")]
    await other.send_json_to({"message": "both still here"})
    assert await receive_said(alice) == ("alice", "both still here")
    await alice.disconnect()
    await other.disconnect()


@hostile("a flood: one socket sends more frames than its burst allows, then a burst more",
         "over the limit: `{\"error\": ...}`, the frame is neither stored nor sent; a whole "
         "burst over: closed with 4029; the room is served throughout")
async def test_a_flood_is_refused_then_closed_and_the_room_goes_on(
    channel_layer, settings, alice_session, bob_session
):
    # No tokens come back during the test (CHAT_RATE = 0): it counts frames, not time.
    settings.CHAT_RATE, settings.CHAT_BURST = 0, 3
    flooder, flooder_first = await join("lobby", alice_session)
    other, _ = await join("lobby", bob_session)
    for n in range(3):
        await flooder.send_json_to({"message": f"flood {n}"})
        assert await receive_said(other) == ("alice", f"flood {n}")
        assert await receive_said(flooder) == ("alice", f"flood {n}")
    for frame in ['{"message": "flood 3"}', "not even JSON", '{"message": "flood 5"}']:
        await flooder.send_input({"type": "websocket.receive", "text": frame})
        assert await flooder.receive_json_from(5) == {"error": FLOOD_ERROR}
    assert await other.receive_nothing()
    await flooder.send_json_to({"message": "flood 6"})
    assert await flooder.receive_output(5) == {"type": "websocket.close", "code": FLOOD_CLOSE_CODE}
    await flooder.disconnect()
    assert await stored("lobby") == [("alice", f"flood {n}") for n in range(3)]
    assert flooder_first["channel_name"] not in await group_members(channel_layer, "chat_lobby")
    # A bucket is per socket: bob has his own, and is served as before.
    await other.send_json_to({"message": "still served"})
    assert await receive_said(other) == ("bob", "still served")
    await other.disconnect()


@pytest.fixture
def alice_browser(alice):
    """Django's test client, logged in as alice (a sync fixture: the ORM may run here)."""
    browser = Client()
    browser.force_login(alice)
    return browser


@hostile("a session cookie after its user logged out",
         "refused at the handshake: logout deleted the session")
async def test_after_logout_the_old_session_cookie_no_longer_opens_a_socket(alice_browser):
    cookie = alice_browser.cookies[settings.SESSION_COOKIE_NAME].value
    chat, _ = await join("lobby", cookie)
    await chat.disconnect()
    # Django's logout deletes the session from the database: the cookie now names nothing.
    await database_sync_to_async(alice_browser.logout)()
    assert await refused(communicator("lobby", cookie))


@hostile("a session cookie made before its user's password changed",
         "refused at the handshake: the session's password hash no longer matches")
async def test_a_password_change_ends_the_old_sessions(alice, alice_session):
    # Each session keeps a hash of the password it was made with (get_session_auth_hash).
    alice.set_password("a brand new passphrase, also not real")
    await database_sync_to_async(alice.save)()
    assert await refused(communicator("lobby", alice_session))


@hostile("a valid session of a user made inactive", "refused at the handshake")
async def test_an_inactive_user_is_refused(alice, alice_session):
    alice.is_active = False
    await database_sync_to_async(alice.save)()
    assert await refused(communicator("lobby", alice_session))


@hostile("a valid session cookie from a foreign, a look-alike or no origin (cross-site "
         "websocket hijacking): `http://evil.example`, `http://127.0.0.1.evil.test`, "
         "`http://localhost.evil.test:8000`, `http://127.0.0.1:8000@evil.test`, none",
         "refused at the handshake (403), before the session is read")
@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "http://127.0.0.1.evil.test", "http://localhost.evil.test:8000",
     "http://127.0.0.1:8000@evil.test", None],
)
async def test_a_foreign_origin_is_refused_even_with_a_valid_session(alice_session, origin):
    # Cross-site websocket hijacking: another site's page cannot borrow the visitor's cookie.
    assert await refused(communicator("lobby", alice_session, origin=origin))


@hostile("with `ALLOWED_HOSTS = example.com`, a valid session from "
         "`https://example.com.evil.test`, `https://www.example.com`, `https://evil-example.com`",
         "refused at the handshake (403)")
@pytest.mark.parametrize(
    "origin", ["https://example.com.evil.test", "https://www.example.com", "https://evil-example.com"]
)
async def test_a_lookalike_of_a_production_host_is_refused(settings, alice_session, origin):
    settings.ALLOWED_HOSTS = ["example.com"]
    # The validator reads ALLOWED_HOSTS when it is built (gs6/asgi.py, at import): build anew,
    # with the same middleware inside it.
    stack = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
    cookie = (b"cookie", f"{settings.SESSION_COOKIE_NAME}={alice_session}".encode())

    async def accepted(origin):
        chat = WebsocketCommunicator(stack, "/ws/chat/lobby/",
                                     headers=[(b"origin", origin.encode()), cookie])
        connected, _ = await chat.connect(timeout=5)
        if connected:
            await chat.disconnect()
        return connected

    assert await accepted("https://example.com")
    assert not await accepted(origin)


@hostile("a room name with a space, a dot, `..`, unicode, 51 characters, a slash or `%20`",
         "no route: refused at the handshake")
@pytest.mark.parametrize(
    "room", ["", "two words", "a.b", "..", "ünïcödé", "x" * 51, "lobby/extra", "a%20b"]
)
async def test_invalid_room_names_have_no_route(alice_session, room):
    chat = communicator(room, alice_session)
    # Awaiting the application ends as soon as the router raises, after the middleware has read
    # the session (connect() would wait out its whole timeout first).
    await chat.send_input({"type": "websocket.connect"})
    with pytest.raises(ValueError, match="No route found"):
        async with asyncio.timeout(5):
            await chat.future


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


# Faults: sockets that leave at the worst moment, come and go by the thousand, and a command
# line that tries to pick the event type. Redis stopping is in test_redis.py.


@hostile("a socket that disconnects in the middle of a broadcast",
         "everyone else gets every message, in order, and every message is stored")
async def test_a_socket_leaving_mid_broadcast_disturbs_no_one(alice_session, bob_session):
    # In memory only: on Redis a leaving socket can, rarely, take a message for another socket
    # of its process with it (gs4's docs page, "Delivery"); the database still has it.
    sender, _ = await join("busy", alice_session)
    stayers = [(await join("busy", bob_session))[0] for _ in range(3)]
    leavers = [(await join("busy", bob_session))[0] for _ in range(3)]

    async def broadcast():
        for n in range(25):
            await sender.send_json_to({"message": f"message {n}"})

    async def leave():
        for chat in leavers:
            await asyncio.sleep(0)  # let the broadcast run in between
            await chat.disconnect()

    await asyncio.gather(broadcast(), leave())
    expected = [("alice", f"message {n}") for n in range(25)]
    for chat in (sender, *stayers):
        assert [await receive_said(chat) for _ in expected] == expected
        await chat.disconnect()
    assert await stored("busy") == expected


@hostile("1000 sockets connect and disconnect, 20 at a time",
         "no group membership is left behind, in memory or in Redis")
@pytest.mark.parametrize("channel_layer", ["RedisChannelLayer"], indirect=True)
async def test_1000_connections_in_and_out_leave_no_membership(channel_layer, alice):
    # On Redis, where a membership left behind would outlive the server. gs4 runs the same
    # test on both layers. Past the middleware (the user in the scope): it is the consumer's
    # joining and leaving that is counted here, not the session lookups.
    router = URLRouter(websocket_urlpatterns)

    async def in_and_out(n):
        chat = WebsocketCommunicator(router, f"/ws/chat/churn_{n % 10}/")
        chat.scope["user"] = alice
        connected, _ = await chat.connect(timeout=10)
        assert connected
        await chat.receive_json_from(10)
        await chat.disconnect(timeout=10)

    for first in range(0, 1000, 20):
        await asyncio.gather(*(in_and_out(n) for n in range(first, first + 20)))
    for room in range(10):
        assert await group_members(channel_layer, f"chat_churn_{room}") == set()
    assert await group_members(channel_layer, NOTIFICATIONS_GROUP) == set()
    # channels_redis deletes a group's sorted set with its last member: no key is left.
    connection = channel_layer.connection(0)
    pattern = channel_layer._group_key("*").decode()
    assert [key async for key in connection.scan_iter(match=pattern)] == []


@hostile("`manage.py notify --type websocket.close TEXT`: a command line that picks the event "
         "type", "refused by the command (it has no such option) before anything is sent")
@pytest.mark.parametrize("channel_layer", ["RedisChannelLayer"], indirect=True)
async def test_notify_cannot_choose_the_event_type(alice_session):
    alice, _ = await join("lobby", alice_session)
    with pytest.raises(CommandError, match="unrecognized arguments"):
        await sync_to_async(call_command)("notify", "--type", "websocket.close", "hi")
    assert await alice.receive_nothing()
    # JSON in the text is only text: it arrives as the notification, and nothing else happens.
    text = json.dumps({"type": "websocket.close"})
    await sync_to_async(call_command)("notify", text)
    assert await alice.receive_json_from(5) == {"notification": text}
    await alice.send_json_to({"message": "still open"})
    assert await receive_said(alice) == ("alice", "still open")
    await alice.disconnect()
