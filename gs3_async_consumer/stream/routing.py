from django.urls import path

from . import consumers

# One consumer class, a new instance of it for every connection (as_asgi(), as in gs1).
websocket_urlpatterns = [
    path("ws/ac/", consumers.StreamAsyncConsumer.as_asgi()),
]
