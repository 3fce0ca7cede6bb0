from channels.layers import get_channel_layer
from django.shortcuts import render


def home(request):
    """The lesson's landing page: what it teaches, which layer runs, and a link to the chat."""
    layer = type(get_channel_layer()).__name__
    return render(request, "chat/home.html", {"layer": layer})


def index(request):
    return render(request, "chat/index.html")


def room(request, room_name):
    # room_name already matched the route's pattern (chat/urls.py).
    return render(request, "chat/room.html", {"room_name": room_name})
