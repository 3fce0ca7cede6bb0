"""The settings a deployment sets, read in a process of their own as a server would read them.
(Defaults, DJANGO_DEBUG=0's refusal of the development key and `check --deploy` are checked for
every lesson by the repository's tests/test_settings.py.)"""

import json
import subprocess
import sys

from chat_clients import LESSON

from testkit.servers import server_env

SHOW = """\
import json
from django.conf import settings
from channels.layers import get_channel_layer
layer = get_channel_layer()
print(json.dumps({
    "layer": type(layer).__name__, "hosts": layer.hosts if hasattr(layer, "hosts") else None,
    "prefix": getattr(layer, "prefix", None), "group_expiry": layer.group_expiry,
    "capacity": layer.capacity, "proxy": settings.SECURE_PROXY_SSL_HEADER,
    "csrf": settings.CSRF_TRUSTED_ORIGINS, "static_root": str(settings.STATIC_ROOT),
    "database": settings.DATABASES["default"],
}, default=str))
"""


def settings_with(env):
    done = subprocess.run([sys.executable, "manage.py", "shell", "-v", "0", "-c", SHOW],
                          cwd=LESSON, env=server_env(env), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_deployment_sets_everything_from_the_environment(tmp_path):
    production = settings_with({
        "REDIS_SENTINELS": "10.0.0.1:26379, 10.0.0.2:26379", "CHANNEL_LAYER_PREFIX": "site",
        "DJANGO_SECURE_PROXY": "1", "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://chat.example.com,https://chat.example.com:8443",
        "DATABASE_URL": "postgres://chat@db.example.com:5432/chat",
    })
    assert production["layer"] == "FailoverRedisChannelLayer"  # chat/layers.py
    # channels_redis asks these Sentinels where the primary named "mymaster" is.
    assert production["hosts"] == [{"sentinels": [["10.0.0.1", 26379], ["10.0.0.2", 26379]],
                                    "master_name": "mymaster"}]
    assert production["prefix"] == "site"
    assert production["proxy"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert production["csrf"] == ["https://chat.example.com", "https://chat.example.com:8443"]
    assert production["static_root"] == str(tmp_path / "static")
    database = production["database"]
    assert (database["ENGINE"], database["HOST"]) == ("django.db.backends.postgresql",
                                                      "db.example.com")
    assert database["OPTIONS"]["pool"]["max_size"] == 10 and database["CONN_HEALTH_CHECKS"]

    plain = settings_with({"REDIS_URL": "redis://127.0.0.1:6379/3",
                           "REDIS_SENTINEL_MASTER": "ignored without sentinels"})
    assert plain["hosts"] == [{"address": "redis://127.0.0.1:6379/3"}]
    assert plain["proxy"] is None and plain["csrf"] == []
    assert plain["group_expiry"] == 300 and plain["capacity"] == 1000
    # SQLite, shared by several processes: wait for the write lock, take it first, use WAL.
    assert plain["database"]["OPTIONS"] == {"timeout": 20, "transaction_mode": "IMMEDIATE",
                                            "init_command": "PRAGMA journal_mode=WAL"}


def test_collectstatic_fills_static_root_for_the_front_server(tmp_path):
    env = {"DJANGO_STATIC_ROOT": str(tmp_path / "static")}
    done = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
                          cwd=LESSON, env=server_env(env), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "static" / "admin" / "css" / "base.css").is_file()
