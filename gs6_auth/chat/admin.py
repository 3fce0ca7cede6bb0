from django.contrib import admin

from .models import Message, Room


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["created", "room", "user", "text"]
    list_filter = ["room", "user"]
    search_fields = ["text", "user__username"]
    date_hierarchy = "created"
