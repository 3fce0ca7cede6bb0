"""The one place that finds the real services the tests need, and installs what is missing.

Redis, PostgreSQL and a headless Chromium are real programs, not mocks. `make test` calls
`provision()` first; the pytest fixtures call `find()` and skip (or fail under CI=true) with
the `how` line when a service is missing.
"""

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"


@dataclass
class Service:
    name: str
    ok: bool
    where: str  # a URL or a path
    how: str  # one line: how a learner gets it


def redis_url():
    return os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL


def postgres_url():
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else DEFAULT_POSTGRES_URL


def _redis_answers(url):
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=2) as s:
            if parts.password:
                s.sendall(f"AUTH {parts.password}\r\n".encode())
                s.recv(64)
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _postgres_answers(url):
    try:
        import psycopg
    except ImportError:
        return False
    try:
        psycopg.connect(url, connect_timeout=3).close()
        return True
    except psycopg.Error:
        return False


def find(name):
    if name == "redis":
        url = redis_url()
        return Service(
            "redis", _redis_answers(url), url,
            f"no Redis answers at {url}: install it (sudo apt-get install redis-server, "
            "or see docs: Installing Redis) or set REDIS_URL",
        )
    if name == "postgres":
        url = postgres_url()
        return Service(
            "postgres", _postgres_answers(url), url,
            f"no PostgreSQL answers at {url}: install it (sudo apt-get install postgresql) "
            "or set DATABASE_URL=postgres://USER@HOST:PORT/DB",
        )
    if name == "redis-server":
        path = shutil.which("redis-server") or ""
        return Service(
            "redis-server", bool(path), path or "redis-server",
            "no redis-server program to start a private Redis: sudo apt-get install redis-server",
        )
    if name == "chromium":
        ok = os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)
        return Service(
            "chromium", ok, f"{CHROMIUM} + {CHROMEDRIVER}",
            "no headless browser: install it (sudo apt-get install chromium chromium-driver)",
        )
    if name == "stack":
        missing = [p for p in ("nginx", "redis-sentinel") if not shutil.which(p)]
        return Service(
            "stack", not missing, "nginx + redis-sentinel",
            f"gs8's production stack needs {' and '.join(missing) or 'nothing more'}: "
            "sudo apt-get install nginx redis-sentinel",
        )
    raise ValueError(f"unknown service {name!r}")


NAMES = ("redis", "postgres", "chromium", "stack")


def _apt_install(*packages):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=False, env=env,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", *packages], check=False, env=env,
                   stdout=subprocess.DEVNULL)


def provision(say=print):
    """Find every service; as root on a Debian machine, install and start what is missing."""
    can_install = os.geteuid() == 0 and shutil.which("apt-get") is not None
    found = {}
    for name in NAMES:
        service = find(name)
        if not service.ok and can_install and name == "redis" and "REDIS_URL" not in os.environ:
            if not shutil.which("redis-server"):
                say("installing redis-server from Debian's packages ...")
                _apt_install("redis-server")
            if shutil.which("redis-server"):
                subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1",
                                "--port", "6379", "--save", "", "--appendonly", "no"],
                               check=False, stdout=subprocess.DEVNULL)
                service = _wait_for(name)
        if not service.ok and can_install and name == "chromium":
            say("installing chromium and chromium-driver from Debian's packages ...")
            _apt_install("chromium", "chromium-driver")
            service = find(name)
        if not service.ok and can_install and name == "stack":
            say("installing nginx and redis-sentinel from Debian's packages ...")
            _apt_install("nginx", "redis-sentinel")
            service = find(name)
        found[name] = service
        say(f"{name:9} {'ok     ' if service.ok else 'MISSING'} {service.where}"
            + ("" if service.ok else f"  ({service.how})"))
    return found


def _wait_for(name, tries=50):
    for _ in range(tries):
        service = find(name)
        if service.ok:
            return service
        time.sleep(0.1)
    return service


class PrivateRedis:
    """A redis-server process of a test's own, on a free port: stop it and start it again."""

    def __init__(self):
        from testkit.servers import free_port

        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            if _redis_answers(self.url):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
