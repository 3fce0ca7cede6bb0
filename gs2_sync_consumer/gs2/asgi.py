"""The ASGI entry point: one router for HTTP requests and websocket connections."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gs2.settings")

# Build Django's HTTP app first: it runs django.setup(), which loads the apps. Importing a
# models module before that raises AppRegistryNotReady (gs2's consumers import none; gs5's do).
django_asgi_app = get_asgi_application()

# --8<-- [start:router]
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from app.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Plain HTTP (pages, admin) goes to Django as usual.
        "http": django_asgi_app,
        # Websockets are matched by path, like urls.py does for views.
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
# --8<-- [end:router]
