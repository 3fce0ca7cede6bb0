"""Settings for gs7_generic_consumers: gs4's, with the echo app."""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

# From the environment in production; the defaults are for development only.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-gs7-development-only")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
# The development key is published in this file: never run without DEBUG on it.
if not DEBUG and SECRET_KEY.startswith("django-insecure-"):
    raise ImproperlyConfigured("DJANGO_DEBUG=0 needs a DJANGO_SECRET_KEY of your own: the "
                               "development key is in the source code for anyone to read")

INSTALLED_APPS = [
    # First, so that its `runserver` (ASGI, websockets) replaces Django's (WSGI, HTTP only).
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "chat",
    "echo",
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

ROOT_URLCONF = "gs7.urls"

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

ASGI_APPLICATION = "gs7.asgi.application"

# Daphne drops the connection on a bigger websocket message, before any consumer sees it.
# Its default lets exactly 1 MiB through; one byte less makes "1 MiB and more" the refused size.
# runserver reads these; the `daphne` command takes --websocket-max-message-size and
# --websocket-max-frame-size, uvicorn --ws-max-size (`make gs7-workers` passes 1048575).
DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE = 1024 * 1024 - 1
DAPHNE_WEBSOCKET_MAX_FRAME_SIZE = 1024 * 1024 - 1

# --8<-- [start:channel-layers]
# The channel layer: how consumers (and any other code) send messages to each other.
# The in-memory layer lives inside one process: fine for `make gs7` and for tests, useless for
# several worker processes or a management command. Redis is shared by all of them.
# How busy a room can be: a layer queues at most `capacity` unread messages per channel
# (default 100) and drops the rest, silently in group_send (it swallows ChannelFull; send raises
# it). When every socket of a room sends at once, each socket's channel queues everyone's
# messages: sized for 20 sockets x 50 messages = 1000 (the default loses ~40% of 10 x 20).
# Memory is used only while a consumer is behind; unread messages expire after 60 s.
# Not `channel_capacity`: on InMemoryChannelLayer (channels 4.3.2) it makes every send fail.
if os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [os.environ["REDIS_URL"]],
                # Every Redis key starts with this: two projects (or two test runs) on one
                # Redis server stay apart if their prefixes differ.
                "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "gs7"),
                "capacity": 1000,
            },
        },
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    }
# --8<-- [end:channel-layers]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Production (DJANGO_DEBUG=0): HTTPS only, so pages and cookies never travel in clear and the
# page opens wss:// sockets. `python manage.py check --deploy` reports no issue with these.
# Behind a TLS proxy, run Daphne with --proxy-headers (uvicorn trusts 127.0.0.1 by default) so
# that Django sees the original https scheme and the redirect below does not loop.
if not DEBUG:
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
