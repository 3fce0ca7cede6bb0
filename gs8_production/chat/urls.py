from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^$", views.index, name="index"),
    re_path(r"^(?P<room_name>[A-Za-z0-9_-]{1,50})/$", views.room, name="room"),
]
