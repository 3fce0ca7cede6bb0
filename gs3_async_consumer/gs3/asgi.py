"""The ASGI entry point: one router for HTTP requests and websocket connections."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gs3.settings")

# Build Django's HTTP app first: it runs django.setup(). Importing routing (which imports
# consumers, and later models) before that raises AppRegistryNotReady.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from stream.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Plain HTTP (pages, admin) goes to Django as usual.
        "http": django_asgi_app,
        # Websockets are matched by path, like urls.py does for views.
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
