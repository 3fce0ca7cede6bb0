from django.contrib import admin

from .models import Message, Presence, Room


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    # A message added here reaches the room's open sockets too (chat/signals.py).
    list_display = ["created", "room", "user", "text"]
    list_filter = ["room", "user"]


@admin.register(Presence)
class PresenceAdmin(admin.ModelAdmin):
    # One row per open socket; the consumers write them (chat/consumers.py).
    list_display = ["room", "user", "channel_name", "seen"]
    list_filter = ["room"]
