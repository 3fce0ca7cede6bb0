from django.urls import path

from . import (
    consumers,
    converters,  # noqa: F401  (registers the <room:...> converter)
)

# A path that does not match (a room name with a space, a dot, 51 characters...) has no route:
# the URLRouter raises, and the server refuses the handshake with an HTTP error.
websocket_urlpatterns = [
    path("ws/chat/<room:room_name>/", consumers.ChatConsumer.as_asgi()),
]
