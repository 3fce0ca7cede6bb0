from django.db import models


class Room(models.Model):
    # The same rule as the websocket route's room name (chat/routing.py).
    name = models.CharField(max_length=50, unique=True)

    def __str__(self):
        return self.name


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    text = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.room}: {self.text[:50]}"

    def as_frame(self):
        """What a socket receives for this message. A datetime is not JSON: ISO 8601 text is."""
        return {"message": self.text, "created": self.created.isoformat(), "id": self.pk}
