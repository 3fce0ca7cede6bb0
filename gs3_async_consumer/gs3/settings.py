"""Settings for gs3_async_consumer: a plain Django project plus the two lines Channels needs."""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

# From the environment in production; the defaults are for development only.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-gs3-development-only")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
# The development key is published in this file: never run without DEBUG on it.
if not DEBUG and SECRET_KEY.startswith("django-insecure-"):
    raise ImproperlyConfigured("DJANGO_DEBUG=0 needs a DJANGO_SECRET_KEY of your own: the "
                               "development key is in the source code for anyone to read")

# --8<-- [start:apps]
INSTALLED_APPS = [
    # First, so that its `runserver` (ASGI, websockets) replaces Django's (WSGI, HTTP only).
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "app",
]
# --8<-- [end:apps]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gs3.urls"

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

# --8<-- [start:asgi]
# The entry point Daphne's runserver loads: the ProtocolTypeRouter in gs3/asgi.py.
ASGI_APPLICATION = "gs3.asgi.application"

# Daphne drops the connection on a bigger websocket message, before any consumer sees it.
# Its default lets exactly 1 MiB through; one byte less makes "1 MiB and more" the refused size.
DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE = 1024 * 1024 - 1
DAPHNE_WEBSOCKET_MAX_FRAME_SIZE = 1024 * 1024 - 1
# --8<-- [end:asgi]

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
