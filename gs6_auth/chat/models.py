from django.conf import settings
from django.db import models


class Room(models.Model):
    # The same rule as the <room:...> converter in chat/converters.py.
    name = models.CharField(max_length=50, unique=True)

    def __str__(self):
        return self.name


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    # Who said it: always scope["user"] of the socket that sent it, never the client's word.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages"
    )
    # 1 to 1000 characters: the consumer checks that before it saves.
    text = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        # A room's history is read newest first, so the index starts with the room.
        indexes = [models.Index(fields=["room", "-created"])]

    def __str__(self):
        return f"{self.room}: {self.user}: {self.text[:50]}"

    def as_frame(self):
        """What a socket receives for this message (datetimes are not JSON: send ISO 8601).

        It reads self.user: load it with the message (select_related), or this is a query."""
        return {
            "user": self.user.get_username(),
            "message": self.text,
            "created": self.created.isoformat(),
            "id": self.pk,
        }
