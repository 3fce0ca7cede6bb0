from django.urls import path

from . import (
    converters,  # noqa: F401  (registers the <room:...> converter)
    views,
)

urlpatterns = [
    path("", views.index, name="index"),
    path("<room:room_name>/", views.room, name="room"),
]
