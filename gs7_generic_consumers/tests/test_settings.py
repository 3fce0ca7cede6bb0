"""Settings from the environment, the production checks, and the origin check on every socket."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator

from gs7.asgi import application

LESSON = Path(__file__).resolve().parent.parent
PATHS = ["/ws/wsc/", "/ws/awsc/", "/ws/jwc/", "/ws/ajwc/lobby/", "/ws/jwc/lobby/"]


def run(*args, **env):
    """python manage.py <args> in a fresh process, with only these DJANGO_/REDIS_ variables."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("DJANGO_", "REDIS_", "CHANNEL_LAYER_"))}
    return subprocess.run([sys.executable, *args], cwd=LESSON, env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def test_check_deploy_reports_no_issue_with_production_settings():
    result = run("manage.py", "check", "--deploy", "--fail-level", "DEBUG",
                 DJANGO_DEBUG="0", DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
                 DJANGO_ALLOWED_HOSTS="chat.example.com")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_flags_the_development_defaults():
    # The same check fails without the environment: the test above is not vacuous.
    result = run("manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W009", "security.W018"):
        assert warning in result.stdout + result.stderr


def layer_backend(**env):
    code = "import gs7.settings as s; print(s.CHANNEL_LAYERS['default']['BACKEND'])"
    result = run("-c", code, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_channel_layer_is_in_memory_by_default_and_redis_with_redis_url():
    assert layer_backend() == "channels.layers.InMemoryChannelLayer"
    assert layer_backend(REDIS_URL="redis://127.0.0.1:6379/0") == (
        "channels_redis.core.RedisChannelLayer"
    )


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "origin",
    [b"http://evil.example", b"http://127.0.0.1.evil.example", b"null", None],
    ids=["foreign", "lookalike", "null", "missing"],
)
async def test_a_handshake_from_a_foreign_origin_is_refused(path, origin):
    headers = [(b"origin", origin)] if origin else []
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "origin", [b"http://127.0.0.1:8000", b"http://localhost:8123", b"https://[::1]"]
)
async def test_a_handshake_from_an_allowed_host_is_accepted(path, origin):
    communicator = WebsocketCommunicator(application, path, headers=[(b"origin", origin)])
    connected, _ = await communicator.connect()
    assert connected
    await communicator.disconnect()
