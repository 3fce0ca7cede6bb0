"""`make gs8-stack`, rehearsed: nginx (TLS) in front of gunicorn and two uvicorn hosts, a
background worker, Redis with a replica and three Sentinels, PostgreSQL. One stack for the
module, on free ports; faults are made on purpose and what users see is checked. The order
matters: the killed host is started again, but the Redis primary, killed last, is not."""

import asyncio
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests
import websockets

from testkit import services
from testkit.plugin import require
from testkit.servers import free_port

LESSON = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(LESSON / "deploy"))
import stack as deploy  # noqa: E402

pytestmark = pytest.mark.e2e
PASSWORD = "a stack test password"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def stack(tmp_path_factory, postgres_url):
    require("stack")
    require("redis-server")
    database = f"{postgres_url.rsplit('/', 1)[0]}/gs8_stack_test_{os.getpid()}"
    # Short timeouts so that the faults play out in seconds: nginx cuts a socket after 3 s of
    # silence, the servers ping every second, a Sentinel calls the primary down after 1 s.
    running = deploy.Stack(port=free_port(), workers=1, state=readable_folder(tmp_path_factory),
                           database_url=database, ws_timeout=3, ping_interval=1,
                           down_after_ms=1000, say=lambda *a: None)
    try:
        running.start()
        for name in ("ada", "bob"):
            running.manage("shell", "-c", (
                "from django.contrib.auth import get_user_model; "
                f"get_user_model().objects.create_user({name!r}, password={PASSWORD!r})"))
        yield running
    finally:
        running.stop()
        drop_database(postgres_url, database)
        shutil.rmtree(running.state, ignore_errors=True)


def readable_folder(tmp_path_factory):
    """A folder nginx's workers can reach when the tests run as root (they drop to www-data,
    and pytest's own temporary folders are private to their owner)."""
    folder = Path(tempfile.mkdtemp(prefix="gs8-stack-"))
    folder.chmod(0o755)
    return folder


def drop_database(server_url, database_url):
    import psycopg
    from psycopg import sql

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


def tls(stack):
    return ssl.create_default_context(cafile=str(stack.state / "tls" / "cert.pem"))


def https(stack):
    """A requests session that trusts the stack's certificate (and nothing from the shell's
    environment: REQUESTS_CA_BUNDLE would otherwise win over `verify`)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(stack.state / "tls" / "cert.pem")
    return session


def login(stack, username):
    """Django's login form over https, as a browser fills it in: the session cookie."""
    session = https(stack)
    page = session.get(f"{stack.url}/accounts/login/", timeout=10)
    assert page.status_code == 200
    token = session.cookies["csrftoken"]
    done = session.post(f"{stack.url}/accounts/login/", timeout=10, allow_redirects=False,
                        data={"username": username, "password": PASSWORD,
                              "csrfmiddlewaretoken": token},
                        headers={"Referer": f"{stack.url}/accounts/login/"})
    assert done.status_code == 302, done.text[:500]
    return session.cookies["sessionid"]


def connect(stack, cookie, room, via=None):
    """A websocket to a room: through nginx (wss://), or straight to one ASGI host."""
    if via is None:
        url, context = f"wss://127.0.0.1:{stack.port}/ws/chat/{room}/", tls(stack)
    else:
        url, context = f"ws://127.0.0.1:{stack.ports[via]}/ws/chat/{room}/", None
    return websockets.connect(url, ssl=context, origin=stack.url, open_timeout=10,
                              additional_headers={"Cookie": f"sessionid={cookie}"},
                              max_size=None)


async def next_message(socket, timeout=10):
    """The next chat message on a socket, skipping history, presence and other frames."""
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), deadline - time.monotonic()))
        if "message" in frame and "id" in frame:
            return frame


def test_pages_and_login_over_https(stack):
    session = https(stack)
    home = session.get(stack.url + "/", timeout=10)
    assert home.status_code == 200
    # Production settings: HSTS from Django, through nginx.
    assert "max-age" in home.headers.get("Strict-Transport-Security", "")
    # Static files come from nginx, out of collectstatic's folder.
    admin_css = session.get(f"{stack.url}/static/admin/css/base.css", timeout=10)
    assert admin_css.status_code == 200 and "text/css" in admin_css.headers["Content-Type"]
    assert login(stack, "ada")
    # Plain http on the TLS port is refused by nginx, never served.
    plain = https(stack).get(f"http://127.0.0.1:{stack.port}/", timeout=10)
    assert plain.status_code == 400


async def test_sockets_on_both_hosts_hear_each_other_through_redis(stack):
    room = f"hosts{uuid.uuid4().hex[:8]}"
    ada, bob = login(stack, "ada"), login(stack, "bob")
    async with connect(stack, ada, room, via="asgi-a") as on_a, \
            connect(stack, bob, room, via="asgi-b") as on_b:
        await on_a.send(json.dumps({"message": "from host A"}))
        await on_b.send(json.dumps({"message": "from host B"}))
        for socket in (on_a, on_b):
            heard = {(await next_message(socket))["message"] for _ in range(2)}
            assert heard == {"from host A", "from host B"}


async def test_a_quiet_socket_outlives_nginx_idle_timeout(stack):
    # nginx cuts a websocket after ws_timeout (3 s here) without a byte from the server; the
    # server's pings (every 1 s here) are such bytes, so a socket that says nothing stays open.
    room = f"quiet{uuid.uuid4().hex[:8]}"
    async with connect(stack, login(stack, "ada"), room) as socket:
        await asyncio.sleep(stack.ws_timeout * 2)
        await socket.send(json.dumps({"message": "still here"}))
        assert (await next_message(socket))["message"] == "still here"


@pytest.mark.hostile("a frame of 1 MiB sent through nginx",
                     "the ASGI server drops that connection; the servers and other sockets go on")
async def test_a_1_mib_frame_through_nginx_is_dropped(stack):
    room = f"big{uuid.uuid4().hex[:8]}"
    cookie = login(stack, "ada")
    async with connect(stack, cookie, room) as bystander:
        async with connect(stack, cookie, room) as sender:
            with pytest.raises(websockets.ConnectionClosed):
                await sender.send(json.dumps({"message": "x" * MiB}))
                await asyncio.wait_for(next_message(sender), 10)
        await bystander.send(json.dumps({"message": "after the big one"}))
        assert (await next_message(bystander))["message"] == "after the big one"
    async with connect(stack, cookie, room) as fresh:
        await fresh.send(json.dumps({"message": "new socket"}))
        assert (await next_message(fresh))["message"] == "new socket"


async def test_the_worker_tells_mentioned_users_on_their_sockets(stack):
    # `runworker chat-mentions`, a process of the stack: ada's message reaches bob's socket in
    # another room, sent there by the worker after it looked bob up in the database.
    ada, bob = login(stack, "ada"), login(stack, "bob")
    async with connect(stack, bob, f"elsewhere{uuid.uuid4().hex[:8]}") as bob_socket, \
            connect(stack, ada, f"lunch{uuid.uuid4().hex[:8]}") as ada_socket:
        await next_frame(bob_socket, "history")  # connected, and in the database as online
        await ada_socket.send(json.dumps({"message": "lunch, @bob?"}))
        mention = (await next_frame(bob_socket, "mention"))["mention"]
        assert (mention["user"], mention["message"]) == ("ada", "lunch, @bob?")


async def next_frame(socket, key, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), deadline - time.monotonic()))
        if key in frame:
            return frame


@pytest.fixture
def chromium():
    """Headless Chromium windows, each with a profile (and so a login) of its own. They trust
    the stack's self-signed certificate as a user who clicked through the warning would."""
    require("chromium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers, profiles = [], []

    def open_window():
        options = webdriver.ChromeOptions()
        options.binary_location = services.CHROMIUM
        profiles.append(tempfile.TemporaryDirectory(prefix="chromium-"))
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--ignore-certificate-errors", "--no-first-run", "--disable-sync",
                    "--disable-background-networking", "--disable-component-update",
                    f"--user-data-dir={profiles[-1].name}"):
            options.add_argument(arg)
        drivers.append(webdriver.Chrome(service=Service(services.CHROMEDRIVER), options=options))
        return drivers[-1]

    yield open_window
    for driver in drivers:
        driver.quit()
    for profile in profiles:
        profile.cleanup()


def log_in_and_open(driver, stack, username, room):
    """The real login form, then the room's page, until its socket is open."""
    from selenium.webdriver.common.by import By

    driver.get(f"{stack.url}/accounts/login/?next=/chat/{room}/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    wait_until(driver, lambda d: state(d) == "open")


def state(driver):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, "chat-state").text


def wait_until(driver, condition, timeout=30):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def say(driver, text):
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "chat-message-input").send_keys(text)
    driver.find_element(By.ID, "chat-message-submit").click()


def said(driver):
    """What the page's log shows: ["user: message", ...], in order, without the times."""
    from selenium.webdriver.common.by import By

    log = driver.find_element(By.ID, "chat-log").get_property("value")
    return [line.split("] ", 1)[1] for line in log.splitlines() if line.startswith("[")
            and not line.startswith(("[error]", "[notification]", "[private"))]


def open_sockets(port):
    """How many established TCP connections this machine has to 127.0.0.1:port."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state_code = line.split()[1], line.split()[3]
        if int(local.split(":")[1], 16) == port and state_code == "01":
            count += 1
    return count


@pytest.mark.hostile("one ASGI host killed while two users chat in their browsers",
                     "the pages reconnect through nginx to the other host, catch up with "
                     "?after=, resend what was typed meanwhile; no message is missing")
def test_a_host_killed_mid_conversation_loses_no_message(stack, chromium):
    room = f"kill{uuid.uuid4().hex[:8]}"
    ada, bob = chromium(), chromium()
    log_in_and_open(ada, stack, "ada", room)
    log_in_and_open(bob, stack, "bob", room)
    expected = []

    def both_say(label):
        for driver, name in ((ada, "ada"), (bob, "bob")):
            say(driver, f"{label} from {name}")
            expected.append(f"{name}: {label} from {name}")

    both_say("before")
    for driver in (ada, bob):
        wait_until(driver, lambda d: said(d) == expected)
    # nginx spread the two sockets over the hosts: kill one that holds at least one of them.
    victim = max(("asgi-a", "asgi-b"), key=lambda name: open_sockets(stack.ports[name]))
    assert open_sockets(stack.ports[victim]) > 0
    try:
        stack.kill(victim)
        both_say("during")  # typed at once: sent on a dying socket, or kept until reconnected
        for driver in (ada, bob):
            wait_until(driver, lambda d: state(d) == "open")
        both_say("after")
        for driver in (ada, bob):
            # Every message, once each (the page skips an id it has shown).
            wait_until(driver, lambda d: sorted(said(d)) == sorted(expected))
    finally:
        stack.start_part(victim)  # the module's stack is whole again for the tests after this


@pytest.mark.hostile("the Redis primary killed while sockets are open",
                     "Sentinel promotes the replica; the layer reconnects; open sockets get "
                     "what was said meanwhile from the database, and new sockets work")
async def test_redis_primary_killed_sentinel_promotes_the_replica(stack):
    room = f"failover{uuid.uuid4().hex[:8]}"
    cookie = login(stack, "ada")
    async with connect(stack, cookie, room, via="asgi-a") as on_a, \
            connect(stack, cookie, room, via="asgi-b") as on_b:
        heard = set()

        async def listen():
            # What B's client is shown: live messages, and the histories the server sends.
            async for text in on_b:
                frame = json.loads(text)
                heard.update(m["message"] for m in frame.get("history", [frame]) if "id" in m)

        listening = asyncio.create_task(listen())
        old_primary = stack.primary_port()
        stack.kill("redis-primary")
        said = []
        deadline = time.monotonic() + 30
        while stack.primary_port() == old_primary:
            assert time.monotonic() < deadline, "no failover in 30 s"
            said.append(f"during {len(said)}")  # saved; the room cannot be told now
            await on_a.send(json.dumps({"message": said[-1]}))
            await asyncio.sleep(0.2)
        assert stack.primary_port() == stack.ports["redis-replica"]
        said.append("after the failover")
        await on_a.send(json.dumps({"message": said[-1]}))
        deadline = time.monotonic() + 30
        while not set(said) <= heard:
            assert time.monotonic() < deadline, f"B never heard {set(said) - heard}"
            await asyncio.sleep(0.2)
        listening.cancel()
        async with connect(stack, cookie, room, via="asgi-b") as fresh:
            await fresh.send(json.dumps({"message": "new socket, new primary"}))
            while (await next_message(on_a))["message"] != "new socket, new primary":
                pass  # what A heard of its own messages, live or caught up


def test_sigterm_stops_every_process(tmp_path, postgres_url):
    require("stack")
    port = free_port()
    database = f"{postgres_url.rsplit('/', 1)[0]}/gs8_stack_term_{os.getpid()}"
    env = {**os.environ, "PORT": str(port), "WORKERS": "1", "DATABASE_URL": database}
    process = subprocess.Popen([sys.executable, str(LESSON / "deploy" / "stack.py"),
                                "--state", str(readable_folder(None))],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C stops every process" in line:
                break
        assert any(f"https://127.0.0.1:{port}" in line for line in lines), "".join(lines)
        # Each part runs in a process group of its own (uvicorn's and gunicorn's workers too).
        groups = {int(pid) for pid in subprocess.run(
            ["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()}
        assert len(groups) == 10  # nginx, gunicorn, two uvicorns, a worker, two Redis, 3 Sentinels
        assert len(deploy.alive_in(groups)) > len(groups)  # and their workers
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert deploy.alive_in(groups) == [], "still running after SIGTERM"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        drop_database(postgres_url, database)
