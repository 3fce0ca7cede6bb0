"""The lesson's commands as a learner types them, each in its own process."""

import subprocess
import sys
from pathlib import Path

from testkit.servers import free_port, server_env

LESSON = Path(__file__).resolve().parent.parent


def run(*args, env=None):
    # server_env() leaves out REDIS_URL (and DATABASE_URL) from the shell running the tests.
    return subprocess.run(
        [sys.executable, *args], cwd=LESSON, env=server_env(env), capture_output=True,
        text=True, timeout=60,
    )


def test_notify_without_redis_exits_non_zero_and_says_why():
    done = run("manage.py", "notify", "hello")
    assert done.returncode != 0
    assert "REDIS_URL" in done.stderr
    assert "in-memory channel layer lives inside one" in done.stderr


def test_workers_without_redis_refuse_and_say_why():
    # What `make gs4-workers` runs. It must refuse before starting anything.
    done = run("../tools/lesson.py", "workers", "4", "--port", str(free_port()))
    assert done.returncode != 0
    assert "needs REDIS_URL" in done.stderr
    assert "in-memory channel layer" in done.stderr
