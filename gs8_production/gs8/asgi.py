"""The ASGI entry point: one router for HTTP requests and websocket connections."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gs8.settings")

# Build Django's HTTP app first: it runs django.setup(). Importing routing (which imports
# consumers, and later models) before that raises AppRegistryNotReady.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402
from chat.workers import MENTIONS_CHANNEL, MentionsWorker  # noqa: E402

# --8<-- [start:stack]
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # A browser sends the page's Origin with every handshake. Refusing origins that are not
        # in ALLOWED_HOSTS stops another site's page from opening sockets as your visitors.
        # It comes first: a browser attaches the session cookie whichever site opens the socket.
        # AuthMiddlewareStack = CookieMiddleware + SessionMiddleware + AuthMiddleware: it reads
        # the session cookie and puts the logged-in user (or AnonymousUser) in scope["user"].
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
        # Messages sent to a named channel, read by `manage.py runworker chat-mentions` (a
        # process of its own), never by a server that holds sockets.
        "channel": ChannelNameRouter({MENTIONS_CHANNEL: MentionsWorker.as_asgi()}),
    }
)
# --8<-- [end:stack]
