from django.urls import re_path

from . import consumers

# A path that does not match (a room name with a space, a dot, 51 characters...) has no route:
# the URLRouter raises, and the server refuses the handshake with an HTTP error.
websocket_urlpatterns = [
    re_path(r"^ws/ajwc/(?P<room_name>[A-Za-z0-9_-]{1,50})/$", consumers.ChatConsumer.as_asgi()),
]

# HTTP requests that a consumer answers, not a view: the room's messages as a stream. Another
# path (a bad room name too) goes on to Django's views, see gs7/asgi.py.
http_urlpatterns = [
    re_path(r"^events/(?P<room_name>[A-Za-z0-9_-]{1,50})/$", consumers.EventsConsumer.as_asgi()),
]
