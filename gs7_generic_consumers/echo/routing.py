from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/wsc/", consumers.EchoConsumer.as_asgi()),
    path("ws/awsc/", consumers.AsyncEchoConsumer.as_asgi()),
    path("ws/jwc/", consumers.JsonEchoConsumer.as_asgi()),
]
