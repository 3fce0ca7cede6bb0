from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class Room(models.Model):
    # The same rule as the websocket route's room name (chat/routing.py).
    name = models.CharField(max_length=50, unique=True)

    def __str__(self):
        return self.name


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    # Who said it: always scope["user"] of the socket that sent it, never the client's word.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    text = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.room}: {self.user}: {self.text[:50]}"

    def as_frame(self):
        """What a socket receives for this message. A datetime is not JSON: ISO 8601 text is.
        It reads self.user: load the user with the message (select_related), in the thread."""
        return {
            "user": self.user.get_username(),
            "message": self.text,
            "created": self.created.isoformat(),
            "id": self.pk,
        }


# --8<-- [start:presence]
def presence_cutoff():
    """Rows not refreshed since then belong to sockets whose server process died."""
    return timezone.now() - timedelta(seconds=settings.PRESENCE_EXPIRY)


class PresenceManager(models.Manager):
    def mark_present(self, room, user, channel_name):
        """This socket is in `room` now: its row is created or refreshed, and the room's stale
        rows are deleted. True if that may change the room's list of users."""
        # Single statements, no read-then-write transaction: on SQLite such a transaction fails
        # at once ("database is locked") when another process wrote in between.
        new = not self.filter(channel_name=channel_name).update(seen=timezone.now())
        if new:
            self.create(room=room, user=user, channel_name=channel_name, seen=timezone.now())
        stale, _ = self.filter(room=room, seen__lt=presence_cutoff()).delete()
        return new or stale > 0

    def refresh(self, channel_names):
        """A heartbeat: these sockets are still open. Their rows are refreshed in one UPDATE
        per thousand; every room's stale rows are deleted. Returns the rooms that lost rows."""
        now = timezone.now()
        for first in range(0, len(channel_names), 1000):
            self.filter(channel_name__in=channel_names[first:first + 1000]).update(seen=now)
        # One cutoff for both statements: a row refreshed in between is not deleted.
        stale = self.filter(seen__lt=presence_cutoff())
        rooms = set(stale.values_list("room", flat=True))
        stale.delete()
        return rooms

    def leave(self, channel_name):
        self.filter(channel_name=channel_name).delete()

    def users_in(self, room):
        """The usernames online in `room`: sorted, each once however many sockets it has."""
        fresh = self.filter(room=room, seen__gte=presence_cutoff())
        return sorted(set(fresh.values_list("user__username", flat=True)))


class Presence(models.Model):
    """One open socket of a logged-in user in a room, on any server process."""

    room = models.CharField(max_length=50, db_index=True)  # a room name, as in the route
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    # The socket's address on the channel layer: unique, so each socket has one row.
    channel_name = models.CharField(max_length=100, unique=True)
    # When the socket last said it is here (connect, then its heartbeat).
    seen = models.DateTimeField()

    objects = PresenceManager()

    def __str__(self):
        return f"{self.user} in {self.room}"
# --8<-- [end:presence]
