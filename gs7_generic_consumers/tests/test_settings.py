"""Settings from the environment, the production checks, and the origin check on every socket."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator

from demo.routing import websocket_urlpatterns
from gs7.asgi import application

LESSON = Path(__file__).resolve().parent.parent
PATHS = ["/ws/wsc/", "/ws/awsc/", "/ws/jwc/", "/ws/ajwc/lobby/", "/ws/jwc/lobby/"]
SHOW = ("import json, gs7.settings as s; "
        "print(json.dumps([s.DEBUG, s.SECRET_KEY, s.ALLOWED_HOSTS]))")


def run(*args, **env):
    """python manage.py <args> in a fresh process, with only these DJANGO_/REDIS_ variables."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("DJANGO_", "REDIS_", "CHANNEL_LAYER_"))}
    return subprocess.run([sys.executable, *args], cwd=LESSON, env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def settings_of(**env):
    done = run("-c", SHOW, **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_defaults_are_for_development():
    debug, key, hosts = settings_of()
    assert debug is True
    # Django's check --deploy flags keys with this prefix: it says "not a real secret".
    assert key.startswith("django-insecure-")
    assert hosts == ["127.0.0.1", "localhost", "[::1]"]


def test_production_values_come_from_the_environment():
    key = secrets.token_urlsafe(50)
    debug, read_key, hosts = settings_of(DJANGO_DEBUG="0", DJANGO_SECRET_KEY=key,
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


@pytest.mark.hostile("a handshake to any endpoint from a foreign, a look-alike or no origin: "
                     "`http://evil.example`, `http://127.0.0.1.evil.example`, "
                     "`http://localhost.evil.test:8000`, `http://127.0.0.1:8000@evil.test`, "
                     "`null`, none", "refused at the handshake (403)")
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "origin",
    [b"http://evil.example", b"http://127.0.0.1.evil.example", b"http://localhost.evil.test:8000",
     b"http://127.0.0.1:8000@evil.test", b"null", None],
    ids=["foreign", "lookalike", "lookalike-port", "userinfo", "null", "missing"],
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


@pytest.mark.hostile("with `ALLOWED_HOSTS = example.com`: `https://example.com.evil.test`, "
                     "`https://www.example.com`, `https://evil-example.com`",
                     "refused at the handshake (403)")
@pytest.mark.parametrize(
    "origin", [b"https://example.com.evil.test", b"https://www.example.com",
               b"https://evil-example.com"]
)
async def test_a_lookalike_of_a_production_host_is_refused(settings, origin):
    settings.ALLOWED_HOSTS = ["example.com"]
    # The validator reads ALLOWED_HOSTS when it is built (gs7/asgi.py, at import): build anew.
    stack = AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns))
    for allowed, accepted in ((b"https://example.com", True), (origin, False)):
        communicator = WebsocketCommunicator(stack, "/ws/awsc/", headers=[(b"origin", allowed)])
        connected, _ = await communicator.connect()
        assert connected is accepted
        await communicator.disconnect()
