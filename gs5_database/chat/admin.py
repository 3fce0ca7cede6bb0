from django.contrib import admin

from .models import Message, Room


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    # A message added here reaches the room's open sockets too (chat/signals.py).
    list_display = ["created", "room", "text"]
    list_filter = ["room"]
