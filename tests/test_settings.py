"""Every lesson's settings come from the environment: safe development defaults, no production
on the published development key, and (from gs4 on) a production configuration that Django's
deployment checklist passes. One test file for all the lessons: this is the contract's minimum,
not any lesson's idea."""

import importlib
import os
import secrets
import subprocess
import sys

import pytest

from testkit.catalog import lesson_dirs, lesson_number, settings_module

LESSONS = lesson_dirs()
# The contract: with DJANGO_DEBUG=0, a real key and real hosts, check --deploy reports no issue.
DEPLOYABLE = [p for p in LESSONS if lesson_number(p) >= 4]
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "DJANGO_ALLOWED_HOSTS": "chat.example.com",
}
SWITCHES = ("REDIS_URL", "DATABASE_URL", "REDIS_SENTINELS")


def by_name(paths):
    return pytest.mark.parametrize("lesson", paths, ids=[p.name for p in paths])


@pytest.fixture
def load(monkeypatch):
    """Import a lesson's settings module afresh with exactly these DJANGO_ variables."""

    def load(lesson, **env):
        for name in [k for k in os.environ if k.startswith("DJANGO_")] + list(SWITCHES):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.syspath_prepend(str(lesson))
        name = settings_module(lesson)
        for loaded in [m for m in sys.modules if m == name.split(".")[0] or m.startswith(name)]:
            del sys.modules[loaded]
        return importlib.import_module(name)

    return load


def manage(lesson, *args, **env):
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("DJANGO_") and k not in SWITCHES}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=lesson,
                          env={**clean, **env}, capture_output=True, text=True, timeout=60)


@by_name(LESSONS)
def test_the_defaults_are_for_development(lesson, load):
    settings = load(lesson)
    assert settings.DEBUG is True
    # Django's check --deploy flags keys with this prefix: it says "not a real secret".
    assert settings.SECRET_KEY.startswith("django-insecure-")
    assert settings.ALLOWED_HOSTS == ["127.0.0.1", "localhost", "[::1]"]
    # The servers' own size limit: a websocket message of 1 MiB or more is never processed.
    assert settings.DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE == 1024 * 1024 - 1


@by_name(LESSONS)
def test_production_values_come_from_the_environment(lesson, load):
    key = secrets.token_urlsafe(50)
    settings = load(lesson, DJANGO_DEBUG="0", DJANGO_SECRET_KEY=key,
                    DJANGO_ALLOWED_HOSTS="example.com,www.example.com")
    assert (settings.DEBUG, settings.SECRET_KEY, settings.ALLOWED_HOSTS) == (
        False, key, ["example.com", "www.example.com"])


@by_name(LESSONS)
@pytest.mark.hostile("starting with `DJANGO_DEBUG=0` and the development secret key",
                     "refused: ImproperlyConfigured when the settings are imported, so "
                     "`manage.py` (and any server) stops before serving anything")
def test_debug_off_with_the_development_key_refuses_to_start(lesson, load):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="needs a DJANGO_SECRET_KEY of your own"):
        load(lesson, DJANGO_DEBUG="0")


@by_name(DEPLOYABLE)
def test_production_settings_pass_the_deployment_checklist(lesson):
    # --fail-level DEBUG: not even a note may be reported.
    done = manage(lesson, "check", "--deploy", "--fail-level", "DEBUG", **PRODUCTION)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


@by_name(DEPLOYABLE[:1])
def test_the_deployment_checklist_catches_a_weak_key(lesson):
    # The same check with a short, guessable key must complain, so the test above can fail.
    done = manage(lesson, "check", "--deploy", "--fail-level", "WARNING",
                  **{**PRODUCTION, "DJANGO_SECRET_KEY": "my-secret-key"})
    assert done.returncode != 0
    assert "security.W009" in done.stdout + done.stderr
