from django.urls import re_path

from . import consumers

# A path that does not match (a room name with a space, a dot, 51 characters...) has no route:
# the URLRouter raises, and the server refuses the handshake with an HTTP error.
websocket_urlpatterns = [
    re_path(r"^ws/chat/(?P<room_name>[A-Za-z0-9_-]{1,50})/$", consumers.ChatConsumer.as_asgi()),
]
