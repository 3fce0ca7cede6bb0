"""The ASGI entry point: one router for HTTP requests and websocket connections."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gs5.settings")

# Build Django's HTTP app first: it runs django.setup(). Importing routing (which imports
# consumers, and later models) before that raises AppRegistryNotReady.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # A browser sends the page's Origin with every handshake. Refusing origins that are not
        # in ALLOWED_HOSTS stops another site's page from opening sockets as your visitors.
        "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)
