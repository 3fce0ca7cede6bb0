"""Settings from the environment: safe development defaults, no production on them, and a
production configuration that Django's deployment checklist passes."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

LESSON = Path(__file__).resolve().parent.parent
SHOW = ("import json, gs6.settings as s; "
        "print(json.dumps([s.DEBUG, s.SECRET_KEY, s.ALLOWED_HOSTS]))")
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "DJANGO_ALLOWED_HOSTS": "chat.example.com",
}


def run(*args, **env):
    """python <args> in the lesson's folder, in a fresh process with only these DJANGO_ vars
    (and no REDIS_URL or DATABASE_URL from the shell running the tests)."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("DJANGO_") and k not in ("REDIS_URL", "DATABASE_URL")}
    return subprocess.run([sys.executable, *args], cwd=LESSON, env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def settings(**env):
    done = run("-c", SHOW, **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_defaults_are_for_development():
    debug, key, hosts = settings()
    assert debug is True
    # Django's check --deploy flags keys with this prefix: it says "not a real secret".
    assert key.startswith("django-insecure-")
    assert hosts == ["127.0.0.1", "localhost", "[::1]"]


def test_production_values_come_from_the_environment():
    key = secrets.token_urlsafe(50)
    debug, read_key, hosts = settings(DJANGO_DEBUG="0", DJANGO_SECRET_KEY=key,
                                      DJANGO_ALLOWED_HOSTS="example.com,www.example.com")
    assert (debug, read_key, hosts) == (False, key, ["example.com", "www.example.com"])


@pytest.mark.hostile("starting with `DJANGO_DEBUG=0` and the development secret key",
                     "refused: ImproperlyConfigured when the settings are imported, so "
                     "`manage.py` (and any server) stops before serving anything")
def test_debug_off_with_the_development_key_refuses_to_start():
    done = run("manage.py", "check", DJANGO_DEBUG="0")
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert "DJANGO_DEBUG=0 needs a DJANGO_SECRET_KEY of your own" in done.stderr


def test_production_settings_pass_the_deployment_checklist():
    # --fail-level DEBUG: not even a note may be reported.
    done = run("manage.py", "check", "--deploy", "--fail-level", "DEBUG", **PRODUCTION)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_the_deployment_checklist_catches_a_weak_key():
    # The same check with a short, guessable key: it must complain, so the test above counts.
    weak = {**PRODUCTION, "DJANGO_SECRET_KEY": "my-secret-key"}
    done = run("manage.py", "check", "--deploy", "--fail-level", "WARNING", **weak)
    assert done.returncode != 0
    assert "security.W009" in done.stdout + done.stderr
