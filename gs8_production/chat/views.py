from channels.layers import get_channel_layer
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.shortcuts import render


def home(request):
    """The lesson's landing page: what it teaches, which database and layer run, the chat."""
    layer = type(get_channel_layer()).__name__
    # "sqlite" or "postgresql": what DATABASE_URL chose.
    return render(request, "chat/home.html", {"layer": layer, "database": connection.vendor})


def index(request):
    return render(request, "chat/index.html")


# Anonymous visitors go to settings.LOGIN_URL, then back here once logged in. The page is only
# half of it: the websocket checks scope["user"] itself (chat/consumers.py).
@login_required
def room(request, room_name):
    # room_name already matched the route's pattern (chat/urls.py).
    return render(request, "chat/room.html", {"room_name": room_name})
