"""The servers the benchmark drives: the lessons' own (testkit's LessonServer) and the bare echo.

LessonServer already starts a lesson the way `make gsN` (Daphne's runserver) and
`make gsN-workers` (uvicorn --workers N) do. What it lacks is a way to serve an ASGI app that is
not a lesson, so BareServer serves bench/bare_echo.py with the same two servers.
"""

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from testkit import services
from testkit.catalog import lesson_dirs, settings_module
from testkit.servers import LessonServer, server_env

BENCH = Path(__file__).resolve().parent


def find_lesson(name):
    """The folder of lesson `name` ("gs4"), or None while no such lesson exists."""
    for path in lesson_dirs():
        if path.name.startswith(f"{name}_"):
            return path
    return None


def redis():
    """Redis's URL, or None (with the reason in .how) when this machine has none."""
    return services.find("redis")


def bench_settings_env(path, **switches):
    """Serve lesson `path` with bench/bench_settings.py: its own settings, with `switches`."""
    return {"DJANGO_SETTINGS_MODULE": "bench_settings",
            "BENCH_BASE_SETTINGS": settings_module(path),
            "PYTHONPATH": str(BENCH), **switches}


def layer_env(path, layer, redis_url=None, **switches):
    """Environment for a chat server: its channel layer ("memory", "redis" or "pubsub") and any
    bench_settings switch."""
    env = bench_settings_env(path, **switches)
    if layer == "memory":
        return env
    # The chats read REDIS_URL and CHANNEL_LAYER_PREFIX; a prefix of our own keeps the
    # benchmark's keys apart from anything else using this Redis server.
    env.update(REDIS_URL=redis_url, CHANNEL_LAYER_PREFIX="bench")
    if layer == "pubsub":
        # No lesson has a switch for RedisPubSubChannelLayer: bench's settings module adds one.
        env["BENCH_LAYER"] = "pubsub"
    return env


# A logged-in user for the chats behind AuthMiddlewareStack (gs6, gs8): one user, "bench",
# whose session every socket of a run shares, as one person's many tabs would.
LOGIN = """
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
user, _ = get_user_model().objects.get_or_create(username="bench")
client = Client()
client.force_login(user)
print(f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}")
"""


def login_cookie(path, env, cwd=None):
    """The Cookie header of a session logged in as "bench", made by the lesson's own manage.py
    (its database, its session engine): force_login, as Django's test client does."""
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", LOGIN], cwd=cwd or path,
                          env=server_env(env), capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise RuntimeError(f"could not log in to {Path(path).name}:\n{done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def group_cpu_seconds(pgid):
    """CPU time (user + system) used so far by the live processes of process group `pgid`."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The fields after the command's closing parenthesis: pgrp is the 3rd, utime and
            # stime the 12th and 13th (proc(5), counting from state).
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


async def quiet(server, busy=0.3, window=1.0, timeout=300):
    """Wait until the server's processes use less than `busy` of a core over `window` seconds:
    the work a room's joins set off (gs6 and gs8 tell the whole room about each new socket)
    is done, and the next message is not queued behind it. Returns the seconds waited."""
    started = time.monotonic()
    pgid = server.process.pid  # LessonServer starts each server in a session of its own
    last = group_cpu_seconds(pgid)
    while time.monotonic() - started < timeout:
        await asyncio.sleep(window)
        now = group_cpu_seconds(pgid)
        if now - last < busy * window:
            break
        last = now
    return time.monotonic() - started


def lesson_server(path, server="daphne", workers=1, env=None):
    """A lesson's real server: Daphne's runserver (`make gsN`) or uvicorn with N workers."""
    if server == "daphne":
        return LessonServer(path, env=env)
    return LessonServer(path, env=env, workers=workers)


class BareServer(LessonServer):
    """bench/bare_echo.py served by Daphne (its command line) or uvicorn (one process)."""

    def __init__(self, server="daphne"):
        super().__init__(BENCH)
        self.server = server
        self.path = BENCH

    def command(self):
        if self.server == "daphne":
            return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                    "bare_echo:application"]
        return [sys.executable, "-m", "uvicorn", "bare_echo:application", "--host", "127.0.0.1",
                "--port", str(self.port), "--log-level", "warning"]

    def start(self, migrate=False, timeout=30):
        # Not a Django project: nothing to migrate.
        return super().start(migrate=False, timeout=timeout)


def scratch_database(server_url, name):
    """A new, empty PostgreSQL database `name` on the server at server_url; returns its URL."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{server_url.rsplit('/', 1)[0]}/{name}"


def drop_database(server_url, database_url):
    import psycopg
    from psycopg import sql

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
