from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/wsc/", consumers.EchoConsumer.as_asgi()),
    path("ws/awsc/", consumers.AsyncEchoConsumer.as_asgi()),
    path("ws/jwc/", consumers.JsonEchoConsumer.as_asgi()),
    # <str:...> takes anything but "/"; the consumer checks the room name and refuses the rest.
    path("ws/ajwc/<str:room_name>/", consumers.ChatConsumer.as_asgi()),
    # The same rooms, served by the sync twin: both kinds of consumer meet in the channel layer.
    path("ws/jwc/<str:room_name>/", consumers.SyncChatConsumer.as_asgi()),
]
