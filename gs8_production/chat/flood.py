"""Flood control: how many frames one socket may send, as a token bucket.

A socket starts with CHAT_BURST tokens and earns CHAT_RATE more a second, never holding more
than CHAT_BURST (both in settings.py). Every frame it sends spends one. So a person can paste a
few lines at once, while a script that sends as fast as it can is soon refused, and its
messages never reach the room.
"""

from time import monotonic

from django.conf import settings

FLOOD_ERROR = "too many messages: slow down, this one was not sent"
# A close code of the application's own: 4000-4999 are for private use (an application may
# close only with 1000 or 3000-4999 under Daphne); 4029 echoes HTTP's 429 Too Many Requests.
FLOOD_CLOSE_CODE = 4029


# --8<-- [start:bucket]
class TokenBucket:
    def __init__(self, rate, burst):
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.checked = monotonic()

    @classmethod
    def from_settings(cls):
        # Read when a socket connects, not at import, so that a test can lower them.
        return cls(settings.CHAT_RATE, settings.CHAT_BURST)

    def take(self):
        """Spend a token on a frame: "ok" to serve it, "refuse" to drop it with an error, or
        "close" when the client is far over the limit."""
        now = monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.checked) * self.rate)
        self.checked = now
        # Refused frames spend a token too: a client that keeps sending while refused only
        # sinks deeper, and one that has sent a whole burst more is flooding on purpose.
        self.tokens -= 1
        if self.tokens >= 0:
            return "ok"
        return "refuse" if self.tokens >= -self.burst else "close"
# --8<-- [end:bucket]
