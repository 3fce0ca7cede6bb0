"""The lesson as a learner runs it: real servers, real websocket clients, a headless Chromium
that logs in through Django's own form.

Tests that only look use the shared `lesson_server`. Tests that log in get servers of their own
on a SQLite file of the test's own, so no test leaves users or rows in the learner's database.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from chat_clients import (
    LESSON,
    handshake_status,
    sessions_on,
    ws_join,
    ws_next_said,
    ws_next_users,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from testkit.servers import server_env

hostile = pytest.mark.hostile
PASSWORD = "a long test passphrase, not a real one"


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the test reads the redirect itself


def get(server, path):
    """(status, Location header, page) of a GET, without following redirects."""
    opener = urllib.request.build_opener(NoRedirects)
    try:
        with opener.open(server.url + path, timeout=10) as response:
            return response.status, None, response.read().decode()
    except urllib.error.HTTPError as answer:
        return answer.code, answer.headers["Location"], answer.read().decode()


def test_the_pages_login_first_and_logout_by_post(lesson_server):
    status, _, home = get(lesson_server, "/")
    assert status == 200
    assert "make gs6" in home and "../.venv/bin/python manage.py createsuperuser" in home
    # A room needs a login: Django's login page, then back to the room.
    assert get(lesson_server, "/chat/lobby/")[:2] == (302, "/accounts/login/?next=/chat/lobby/")
    status, _, login = get(lesson_server, "/accounts/login/?next=/chat/lobby/")
    assert status == 200 and 'name="password"' in login and 'value="/chat/lobby/"' in login
    # Since Django 5, logging out takes a POST: a link (a GET) is refused.
    assert get(lesson_server, "/accounts/logout/")[0] == 405


@hostile("a handshake with no session, a made-up session, or another site's Origin",
         "refused at the handshake: 403, within 3 seconds")
async def test_anonymous_and_foreign_handshakes_are_refused(lesson_server):
    statuses = await asyncio.gather(
        handshake_status(lesson_server),
        handshake_status(lesson_server, session="made-up-session-key"),
        handshake_status(lesson_server, origin="http://evil.example"),
    )
    assert statuses == [403, 403, 403]


async def until_users(ws, expected):
    """Read presence updates until the list is `expected` (earlier lists are allowed: they
    show the room as it was while people were joining)."""
    while (users := await ws_next_users(ws)) != expected:
        pass
    return users


@hostile("a server process killed (SIGKILL) with sockets open: its disconnect() never runs",
         "on the other process, its users drop off the list after PRESENCE_EXPIRY")
async def test_two_processes_on_redis_share_rooms_and_presence_and_heal_after_a_crash(
    start_server, tmp_path, redis_url, prefix
):
    database = f"sqlite:///{tmp_path / 'gs6.sqlite3'}"
    env = {"DATABASE_URL": database, "REDIS_URL": redis_url, "CHANNEL_LAYER_PREFIX": prefix,
           "PRESENCE_HEARTBEAT": "0.3", "PRESENCE_EXPIRY": "2"}
    first = start_server(env=env)
    second = start_server(env=env, migrate=False)
    sessions = sessions_on(database, "alice", "bob")
    # alice's three tabs on one process, bob's three on the other.
    alices = [(await ws_join(first, session=sessions["alice"]))[0] for _ in range(3)]
    bobs = [(await ws_join(second, session=sessions["bob"]))[0] for _ in range(3)]
    for ws in alices + bobs:
        assert await until_users(ws, ["alice", "bob"])

    # Every socket sends a burst at once, without waiting: every socket hears every message,
    # in the same order, whichever process it is on.
    for s, ws in enumerate(alices + bobs):
        for n in range(10):
            await ws.send(json.dumps({"message": f"socket {s} message {n}"}))

    async def hear(ws):
        return [await ws_next_said(ws) for _ in range(60)]

    heard = await asyncio.gather(*(hear(ws) for ws in alices + bobs))
    assert all(frames == heard[0] for frames in heard) and len(set(heard[0])) == 60
    assert sorted(user for user, _ in heard[0]) == ["alice"] * 30 + ["bob"] * 30

    # The second process dies at once: no disconnect() runs, bob's rows stay behind. alice's
    # heartbeats on the first process find them stale and delete them.
    os.killpg(second.process.pid, signal.SIGKILL)
    second.process.wait(10)
    for ws in alices:
        assert await until_users(ws, ["alice"])
        await ws.close()


# The real login form, once, in a browser.


def create_superuser(database_url, username):
    """`manage.py createsuperuser`, as the home page tells a learner, on a server's database."""
    env = {"DATABASE_URL": database_url, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", username,
         "--email", f"{username}@example.com"],
        cwd=LESSON, env=server_env(env), check=True, capture_output=True, timeout=60,
    )


def text_of(browser, element_id):
    element = browser.find_element(By.ID, element_id)
    return element.get_property("value") if element.tag_name == "textarea" else element.text


async def test_log_in_with_the_form_chat_see_who_is_online_and_log_out(
    start_server, tmp_path, browser
):
    database = f"sqlite:///{tmp_path / 'gs6.sqlite3'}"
    server = start_server(env={"DATABASE_URL": database})
    create_superuser(database, "alice")
    wait = WebDriverWait(browser, 10)
    # The room sends an anonymous visitor to Django's login form, and back after it.
    browser.get(server.url + "/chat/lobby/")
    wait.until(lambda _: "/accounts/login/" in browser.current_url)
    browser.find_element(By.ID, "id_username").send_keys("alice")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD, Keys.ENTER)
    wait.until(lambda _: text_of(browser, "chat-state") == "open")
    assert browser.current_url == server.url + "/chat/lobby/"
    wait.until(lambda _: text_of(browser, "online-users") == "alice")

    # bob joins from a script: the page lists him. What he says goes into the page as text.
    bob, _ = await ws_join(server, session=sessions_on(database, "bob")["bob"])
    wait.until(lambda _: text_of(browser, "online-users") == "alice, bob")
    browser.find_element(By.ID, "chat-message-input").send_keys("hi bob", Keys.ENTER)
    assert await ws_next_said(bob) == ("alice", "hi bob")
    markup = '<img src=x onerror="document.title=\'pwned\'"><b>bold?</b>'
    await bob.send(json.dumps({"message": markup, "user": "alice"}))
    wait.until(lambda _: f"bob: {markup}" in text_of(browser, "chat-log"))
    assert "alice: hi bob" in text_of(browser, "chat-log")
    assert browser.find_elements(By.CSS_SELECTOR, "img, b") == []
    assert browser.title != "pwned"
    await bob.close()
    wait.until(lambda _: text_of(browser, "online-users") == "alice")

    # The server restarts under the open page: it says so, and keeps what was typed.
    server.restart()
    wait.until(lambda _: text_of(browser, "chat-state").startswith("closed"))
    typed = browser.find_element(By.ID, "chat-message-input")
    typed.send_keys("not lost", Keys.ENTER)
    assert typed.get_property("value") == "not lost"
    assert "[not sent: the socket is closed]" in text_of(browser, "chat-log")

    # Log out with the page's button: the old session cookie opens no socket any more.
    cookie = browser.get_cookie("sessionid")["value"]
    assert await handshake_status(server, session=cookie) == 101
    browser.find_element(By.ID, "logout").click()
    wait.until(lambda _: browser.current_url == server.url + "/")
    assert await handshake_status(server, session=cookie) == 403
