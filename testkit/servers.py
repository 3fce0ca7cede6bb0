"""Real lesson servers in their own processes: Daphne's runserver, or uvicorn with workers."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testkit.catalog import asgi_module

# Websocket messages of 1 MiB and more are dropped by the server; Daphne's lessons set the same.
MAX_MESSAGE_BYTES = 1024 * 1024 - 1


def uvicorn_command(path, port, workers):
    """uvicorn serving a lesson's asgi.py with `workers` processes."""
    return [sys.executable, "-m", "uvicorn", f"{asgi_module(path)}:application",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--ws-max-size", str(MAX_MESSAGE_BYTES)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(extra=None):
    """The environment a lesson server gets: the caller's, without the switches a test sets."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class LessonServer:
    """A lesson's real server in its own process: Daphne's runserver, or uvicorn with workers."""

    def __init__(self, path, env=None, workers=None, port=None):
        self.path = Path(path)
        self.env = server_env(env)
        self.workers = workers
        self.port = port or free_port()
        self.process = None
        self.log = tempfile.NamedTemporaryFile(prefix=f"{self.path.name}-", suffix=".log")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self):
        return self.url

    def ws(self, path):
        return f"ws://127.0.0.1:{self.port}{path}"

    def command(self):
        if self.workers:
            return [*uvicorn_command(self.path, self.port, self.workers), "--log-level", "warning"]
        return [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"]

    def migrate(self):
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                       cwd=self.path, env=self.env, check=True)

    def start(self, migrate=True, timeout=30):
        if migrate:
            self.migrate()
        self.process = subprocess.Popen(
            self.command(), cwd=self.path, env=self.env, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"server exited with {code}:\n{self.output()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server not listening after {timeout}s:\n{self.output()}")

    def stop(self):
        if self.process and self.process.poll() is None:
            # The whole process group: uvicorn's workers too.
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)

    def restart(self):
        self.stop()
        return self.start(migrate=False)

    def output(self):
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-4000:]
