"""The lesson's commands as a learner types them, each in its own process."""

import secrets
import subprocess
import sys
from pathlib import Path

from testkit.lessons import free_port, server_env

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


def test_notify_needs_its_text():
    done = run("manage.py", "notify")
    assert done.returncode != 0
    assert "text" in done.stderr


def test_workers_without_redis_refuse_and_say_why():
    # What `make gs6-workers` runs. It must refuse before starting anything.
    done = run("../tools/lesson.py", "workers", "6", "--port", str(free_port()))
    assert done.returncode != 0
    assert "needs REDIS_URL" in done.stderr
    assert "in-memory channel layer" in done.stderr


PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "DJANGO_ALLOWED_HOSTS": "chat.example.com",
}


def test_production_settings_pass_the_deployment_checklist():
    done = run("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_the_deployment_checklist_catches_development_settings():
    # The same check with a development key left in: it must complain.
    weak = {**PRODUCTION, "DJANGO_SECRET_KEY": "django-insecure-gs6-development-only"}
    done = run("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=weak)
    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr
