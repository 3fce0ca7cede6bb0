from django.urls import path

from . import consumers

# Like urls.py, for websockets. as_asgi() plays the part of as_view(): it returns an ASGI app
# that makes a new consumer instance for every connection.
websocket_urlpatterns = [
    path("ws/sc/", consumers.MySyncConsumer.as_asgi()),
    path("ws/ac/", consumers.MyAsyncConsumer.as_asgi()),
]
