"""The lesson as a learner runs it: a real server, users made with `createsuperuser`, a login
through Django's form over HTTP, real websockets carrying the session cookie, and Chromium.

Tests that only look use the shared `lesson_server`. Tests that log in get `auth_server`: a
server of their own on a copy of a SQLite file that was migrated once for the module, with
users alice and bob made by createsuperuser.
"""

import asyncio
import json
import sqlite3
import subprocess
import sys
from types import SimpleNamespace

import pytest
import websockets
from chat_clients import (
    LESSON,
    PASSWORD,
    Visitor,
    create_user,
    nothing_more,
    recv_json,
    ws_connect,
    ws_join,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from testkit.servers import server_env

hostile = pytest.mark.hostile


@pytest.fixture(scope="module")
def template_database(tmp_path_factory):
    """A migrated SQLite file with two users, alice and bob, made once for this module the way a
    learner makes them (`migrate`, `createsuperuser`). Each test's server gets a copy."""
    path = tmp_path_factory.mktemp("gs6") / "template.sqlite3"
    url = f"sqlite:///{path}"
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                   cwd=LESSON, env=server_env({"DATABASE_URL": url}), check=True, timeout=60)
    for username in ("alice", "bob"):
        create_user(url, username)
    return path


@pytest.fixture
def database_url(tmp_path, template_database):
    path = tmp_path / "gs6.sqlite3"
    # SQLite's backup API copies a consistent database, write-ahead log included.
    with sqlite3.connect(template_database) as source, sqlite3.connect(path) as copy:
        source.backup(copy)
    return f"sqlite:///{path}"


@pytest.fixture
def auth_server(start_server, database_url):
    """This lesson's server on a database of the test's own, with users alice and bob in it."""
    return start_server(env={"DATABASE_URL": database_url}, migrate=False)


async def refused_status(server, **connect):
    """The HTTP status that refused a handshake (within 3 seconds), or fail if it opened."""
    with pytest.raises(websockets.InvalidStatus) as refusal:
        async with asyncio.timeout(3):
            await ws_connect(server, **connect)
    return refusal.value.response.status_code


def test_a_room_page_sends_anonymous_visitors_to_the_login_page(lesson_server):
    status, headers, _ = Visitor(lesson_server).request("/chat/lobby/")
    assert status == 302
    assert headers["Location"] == "/accounts/login/?next=/chat/lobby/"


def test_the_login_page_is_djangos_form_and_logout_is_post_only(lesson_server):
    visitor = Visitor(lesson_server)
    status, _, page = visitor.request("/accounts/login/?next=/chat/lobby/")
    assert status == 200
    for field in ('name="username"', 'name="password"', 'name="csrfmiddlewaretoken"'):
        assert field in page
    assert 'name="next" value="/chat/lobby/"' in page
    # Django 5: logging out is a POST (with the CSRF token); a GET is not allowed.
    assert visitor.request("/accounts/logout/")[0] == 405


@hostile("an anonymous handshake to a real server: no cookie, or a made-up session key",
         "refused at the handshake (403); the server goes on")
@pytest.mark.parametrize("session", [None, "made-up-session-key"], ids=["no cookie", "made up"])
async def test_an_anonymous_handshake_is_refused(lesson_server, session):
    assert await refused_status(lesson_server, session=session) == 403
    # The server survives it: the page still answers.
    assert Visitor(lesson_server).request("/")[0] == 200


async def test_log_in_through_the_form_then_chat_under_your_own_name(auth_server):
    alice, bob = Visitor(auth_server), Visitor(auth_server)
    # A wrong password: the form again, with an error, and no session.
    status, _, page = alice.log_in("alice", "not the password")
    assert status == 200 and 'id="login-error"' in page
    assert alice.session is None
    for visitor, username in ((alice, "alice"), (bob, "bob")):
        status, headers, _ = visitor.log_in(username)
        # Django's LoginView: a redirect to LOGIN_REDIRECT_URL, and a session cookie.
        assert (status, headers["Location"]) == (302, "/chat/")
        assert visitor.session
    assert alice.request("/chat/lobby/")[0] == 200

    alice_ws, _ = await ws_join(auth_server, session=alice.session)
    bob_ws, _ = await ws_join(auth_server, session=bob.session)
    # The "user" key is the client's claim, and it is ignored: the session says alice.
    await alice_ws.send(json.dumps({"message": "<b>hello</b>", "user": "bob"}))
    for ws in (alice_ws, bob_ws):
        frame = await recv_json(ws)
        assert (frame["user"], frame["message"]) == ("alice", "<b>hello</b>")
    await bob_ws.send(json.dumps({"message": "hi alice"}))
    assert (await recv_json(alice_ws))["user"] == "bob"
    for ws in (alice_ws, bob_ws):
        await ws.close()

    # A new socket's history says who said what.
    ws, first = await ws_join(auth_server, session=bob.session)
    assert [(m["user"], m["message"]) for m in first["history"]] == [
        ("alice", "<b>hello</b>"), ("bob", "hi alice"),
    ]
    await ws.close()


@hostile("a valid session cookie sent from another site's page (cross-site websocket "
         "hijacking): `http://evil.example`, `https://127.0.0.1.evil.example`, "
         "`http://localhost.evil.test:PORT`, `null`",
         "refused at the handshake (403); the same cookie from the lesson's origin works")
async def test_a_foreign_origin_is_refused_even_with_a_valid_session(auth_server):
    # Cross-site websocket hijacking: a page on another site opens a socket, and the browser
    # attaches the visitor's cookie. The origin check refuses it before the cookie counts.
    visitor = Visitor(auth_server)
    visitor.log_in("alice")
    for origin in ["http://evil.example", "https://127.0.0.1.evil.example",
                   f"http://localhost.evil.test:{auth_server.port}", "null"]:
        assert await refused_status(auth_server, session=visitor.session, origin=origin) == 403
    # The same cookie from the lesson's own origin works.
    ws, _ = await ws_join(auth_server, session=visitor.session)
    await ws.close()


@hostile("the session cookie of a user who logged out, on a real server",
         "refused at the handshake (403); logging in again makes a new session that works")
async def test_after_logout_the_old_session_cookie_no_longer_opens_a_socket(auth_server):
    visitor = Visitor(auth_server)
    visitor.log_in("alice")
    old_session = visitor.session
    ws, _ = await ws_join(auth_server, session=old_session)
    await ws.close()

    # The logout form on the room page: a POST with the CSRF token, then a redirect home.
    status, headers, _ = visitor.log_out()
    assert (status, headers["Location"]) == (302, "/")
    assert visitor.session is None
    assert visitor.request("/chat/lobby/")[0] == 302
    assert await refused_status(auth_server, session=old_session) == 403

    # Logging in again makes a new session, which works.
    visitor.log_in("alice")
    assert visitor.session != old_session
    ws, _ = await ws_join(auth_server, session=visitor.session)
    await ws.send(json.dumps({"message": "back again"}))
    assert (await recv_json(ws))["user"] == "alice"
    assert await nothing_more(ws)
    await ws.close()


@hostile("a frame of 1 MiB over a logged-in socket",
         "the server drops the connection (1009); nothing is stored, and a new connection works")
async def test_a_frame_of_a_mebibyte_is_never_processed(auth_server):
    visitor = Visitor(auth_server)
    visitor.log_in("alice")
    ws, _ = await ws_join(auth_server, "big", session=visitor.session)
    # One byte under the limit reaches the consumer, which refuses it before parsing it.
    await ws.send("x" * (1024 * 1024 - 1))
    assert "at most" in (await recv_json(ws))["error"]
    # Over Daphne's limit (settings.py): the frame never reaches the consumer, and the server
    # drops the connection, maybe while the frame is still being sent.
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.send(json.dumps({"message": "x" * (1024 * 1024)}))
        await recv_json(ws)
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
    ws, first = await ws_join(auth_server, "big", session=visitor.session)
    assert first["history"] == []
    await ws.close()


def test_browser_logs_in_and_shows_username_and_message_as_text(auth_server, browser):
    markup = '<img src=x onerror="document.title=\'pwned\'"><b>hi</b>'
    wait = WebDriverWait(browser, 10)
    page = SimpleNamespace(
        field=lambda element_id: browser.find_element(By.ID, element_id),
        log=lambda: browser.find_element(By.ID, "chat-log").get_property("value"),
    )
    # The room sends us to the login form, and the form back to the room.
    browser.get(auth_server.url + "/chat/lobby/")
    wait.until(lambda _: "/accounts/login/" in browser.current_url)
    page.field("id_username").send_keys("alice")
    page.field("id_password").send_keys(PASSWORD, Keys.ENTER)
    wait.until(lambda _: browser.current_url.endswith("/chat/lobby/"))
    assert page.field("username").text == "alice"
    wait.until(lambda _: page.field("chat-state").text == "open")

    page.field("chat-message-input").send_keys(markup, Keys.ENTER)
    wait.until(lambda _: f"alice: {markup}" in page.log())
    # Shown as text: no element was made from the markup.
    assert browser.find_elements(By.CSS_SELECTOR, "img, b") == []
    assert browser.title != "pwned"

    # The logout button: back home, logged out; the room asks for a login again.
    page.field("logout").click()
    wait.until(lambda _: browser.current_url == auth_server.url + "/")
    assert page.field("login").text == "log in"
    browser.get(auth_server.url + "/chat/lobby/")
    wait.until(lambda _: "/accounts/login/" in browser.current_url)
