"""The ASGI entry point: one router for HTTP requests and websocket connections."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gs7.settings")

# Build Django's HTTP app first: it runs django.setup(). Importing routing (which imports
# consumers, and later models) before that raises AppRegistryNotReady.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from chat.routing import http_urlpatterns, websocket_urlpatterns  # noqa: E402
from echo.routing import websocket_urlpatterns as echo_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # --8<-- [start:http]
        # A request for /events/<room>/ goes to its consumer; every other one to Django's views.
        "http": URLRouter([*http_urlpatterns, re_path(r"", django_asgi_app)]),
        # --8<-- [end:http]
        # A browser sends the page's Origin with every handshake. Refusing origins that are not
        # in ALLOWED_HOSTS stops another site's page from opening sockets as your visitors.
        "websocket": AllowedHostsOriginValidator(
            URLRouter(websocket_urlpatterns + echo_urlpatterns)
        ),
    }
)
