"""The WSGI entry point: pages only (login, admin, rooms), for a WSGI server such as
`gunicorn gs8.wsgi`. Websockets need the ASGI application (gs8/asgi.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gs8.settings")

application = get_wsgi_application()
