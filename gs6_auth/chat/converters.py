from django.urls import register_converter


class RoomNameConverter:
    """A room name: 1 to 50 ASCII letters, digits, "_" or "-".

    It becomes part of a group name, and group names may only hold ASCII letters, digits,
    "-", "_" and "." (under 100 characters). Any other name matches no route: the page answers
    404 and the websocket handshake is refused.
    """

    regex = "[A-Za-z0-9_-]{1,50}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


# Registered once, used by both chat/urls.py (pages) and chat/routing.py (websockets).
register_converter(RoomNameConverter, "room")
