"""Settings for gs8_production: gs6's project, with every value a deployment changes read
from the environment. Development defaults: `make gs8` runs with none of them set."""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_list(name, default=""):
    """A comma-separated variable as a list, without empty items."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# From the environment in production; the defaults are for development only.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-gs8-development-only")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
# The development key is published in this file: never run without DEBUG on it.
if not DEBUG and SECRET_KEY.startswith("django-insecure-"):
    raise ImproperlyConfigured("DJANGO_DEBUG=0 needs a DJANGO_SECRET_KEY of your own: the "
                               "development key is in the source code for anyone to read")

INSTALLED_APPS = [
    # First, so that its `runserver` (ASGI, websockets) replaces Django's (WSGI, HTTP only).
    "daphne",
    # For `manage.py runworker` (the background worker, chat/workers.py).
    "channels",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gs8.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "gs8.asgi.application"
# Pages can also be served by a WSGI server (gunicorn gs8.wsgi), leaving /ws/ to ASGI servers.
WSGI_APPLICATION = "gs8.wsgi.application"

# Daphne drops the connection on a bigger websocket message, before any consumer sees it.
# Its default lets exactly 1 MiB through; one byte less makes "1 MiB and more" the refused size.
# runserver reads these; the `daphne` command takes --websocket-max-message-size and
# --websocket-max-frame-size, uvicorn --ws-max-size (`make gs8-workers` passes 1048575).
DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE = 1024 * 1024 - 1
DAPHNE_WEBSOCKET_MAX_FRAME_SIZE = 1024 * 1024 - 1

# --8<-- [start:flood]
# Flood control for each chat socket (chat/flood.py): CHAT_BURST frames at once, then CHAT_RATE
# a second. A frame over that gets {"error": ...} and is not sent; a socket that sends a whole
# burst more is closed with code 4029.
CHAT_RATE = 10
CHAT_BURST = 30
# --8<-- [end:flood]

# --8<-- [start:layers]
# The channel layer. In memory without Redis (one process: `make gs8`, the tests). Redis for
# several processes: REDIS_URL for one server, or REDIS_SENTINELS="host:port,host:port" for a
# primary watched by Sentinels, which the layer asks where the primary is now (failover).
LAYER_CONFIG = {
    # Every Redis key starts with this: two projects on one Redis server stay apart.
    "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "gs8"),
    # A server process reads its sockets' messages from one Redis list (a message to a room is
    # written there once, for all of the room's sockets in that process), and hands them to
    # each socket's own queue. Past `capacity` (default 100) either drops messages without a
    # word. A room where 50 people send 20 lines at once queues 1000: size it for your bursts
    # (memory is only used while a burst waits).
    "capacity": 1000,
    # A message nobody reads is dropped after `expiry` seconds (the default, 60): a socket's
    # consumer reads its queue within milliseconds, or its process is gone.
    "expiry": 60,
    # A group forgets a member after `group_expiry` seconds (default: a day). Each socket joins
    # again at every heartbeat (PRESENCE_HEARTBEAT, far shorter), so the members left behind by
    # a process that died are gone in 5 minutes, not queued for by every message for a day.
    "group_expiry": 300,
}
if os.environ.get("REDIS_SENTINELS"):
    sentinels = [tuple(address.rsplit(":", 1)) for address in env_list("REDIS_SENTINELS")]
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis's layer, with a receive() that waits out a failover (chat/layers.py).
            "BACKEND": "chat.layers.FailoverRedisChannelLayer",
            # channels_redis builds a SentinelConnectionPool from a host with "master_name".
            "CONFIG": {
                "hosts": [{
                    "sentinels": [(host, int(port)) for host, port in sentinels],
                    "master_name": os.environ.get("REDIS_SENTINEL_MASTER", "mymaster"),
                }],
                **LAYER_CONFIG,
            },
        },
    }
elif os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "chat.layers.FailoverRedisChannelLayer",
            "CONFIG": {"hosts": [os.environ["REDIS_URL"]], **LAYER_CONFIG},
        },
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": LAYER_CONFIG["capacity"],
                       "group_expiry": LAYER_CONFIG["group_expiry"]},
        },
    }
# --8<-- [end:layers]

# --8<-- [start:databases]
# SQLite in the lesson folder by default; DATABASE_URL picks another database, for example
# postgres://postgres@127.0.0.1:5432/gs8. CONN_HEALTH_CHECKS: with the pool below, a connection
# is checked before it is lent, so one that died (the database restarted) fails no query.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_health_checks=True
    )
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # database_sync_to_async closes the connection after every call (CONN_MAX_AGE is 0, as
    # Django advises under ASGI), so each message would open a new one: a TCP handshake and a
    # login for every INSERT. A pool (Django 5.1+, psycopg 3, psycopg-pool) hands it back
    # instead.
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            # Each process keeps this many open; past max_size a query waits up to `timeout`
            # seconds for one, then fails. Processes x max_size must stay under the server's
            # max_connections (100 by default).
            "min_size": 2,
            "max_size": int(os.environ.get("DATABASE_POOL_SIZE", "10")),
            "timeout": 10,
        }
    }

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite has one writer at a time. Several processes (uvicorn workers, manage.py, the admin)
    # writing at once must wait for each other instead of failing with "database is locked":
    DATABASES["default"]["OPTIONS"] = {
        # How long a connection waits for the write lock before it gives up (default 5 s).
        "timeout": 20,
        # Take the write lock when a transaction begins. With the default (DEFERRED), a
        # transaction that reads and then writes fails at once when another process wrote in
        # between, whatever the timeout: the wait above never happens.
        "transaction_mode": "IMMEDIATE",
        # Write-ahead log: readers (a socket loading its history) and the writer never block
        # each other. The setting is stored in the database file.
        "init_command": "PRAGMA journal_mode=WAL",
    }
# --8<-- [end:databases]

# --8<-- [start:auth]
# Django's own login and logout views (django.contrib.auth.urls, under /accounts/ in urls.py).
# login_required sends anonymous visitors to LOGIN_URL, with ?next= the page they wanted.
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/chat/"
LOGOUT_REDIRECT_URL = "/"
# --8<-- [end:auth]

# --8<-- [start:presence]
# Who is online (chat/models.py, Presence): every PRESENCE_HEARTBEAT seconds an open socket
# refreshes its row; a row not refreshed for PRESENCE_EXPIRY seconds (its server process died
# without running disconnect()) stops counting, and the next heartbeat in its room deletes it.
PRESENCE_HEARTBEAT = float(os.environ.get("PRESENCE_HEARTBEAT", "10"))
PRESENCE_EXPIRY = float(os.environ.get("PRESENCE_EXPIRY", "30"))
# A socket reads the room's list at most once per PRESENCE_COALESCE seconds, however many
# joins and leaves it hears of (chat/consumers.py, presence_changed).
PRESENCE_COALESCE = float(os.environ.get("PRESENCE_COALESCE", "0.5"))
# --8<-- [end:presence]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --8<-- [start:production]
STATIC_URL = "static/"
# `manage.py collectstatic` copies every app's static files (the admin's) here, for the front
# server (nginx) to serve: with DEBUG off, Django serves none.
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles"))
# Forms posted from these origins pass the CSRF check: the https:// addresses users open, when
# they are not simply the hosts above (a port, a proxy's own name).
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

if os.environ.get("DJANGO_SECURE_PROXY") == "1":
    # Behind a proxy that terminates TLS, requests reach Django over plain http. Trust the
    # proxy's X-Forwarded-Proto to know they were https, or SECURE_SSL_REDIRECT loops for ever.
    # Only behind a proxy that always sets it: otherwise a client could claim https itself.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Production (DJANGO_DEBUG=0): HTTPS only, so pages and cookies never travel in clear and the
# page opens wss:// sockets. `python manage.py check --deploy` reports no issue with these.
if not DEBUG:
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# --8<-- [end:production]
