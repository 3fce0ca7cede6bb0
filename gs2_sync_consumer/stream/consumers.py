import json
import time

from channels.consumer import SyncConsumer
from channels.exceptions import StopConsumer

from .protocol import BadMessage, parse


class StreamSyncConsumer(SyncConsumer):
    """Counts to N over the socket, one frame per interval, with plain blocking code."""

    def websocket_connect(self, event):
        self.send({"type": "websocket.accept"})

    def websocket_receive(self, event):
        try:
            command = parse(event)
        except BadMessage as error:
            # Answer and keep the socket open: one bad frame should not cost the connection.
            self.send_json({"error": str(error)})
            return
        if command.name == "close":
            # The server ends the connection; 1000 means "normal closure".
            self.send({"type": "websocket.close", "code": 1000})
        else:
            self.stream(command.count, command.interval)

    def stream(self, count, interval):
        # This loop holds the handler's thread until it ends: this consumer sees no other event
        # (not even "close" or the disconnect) before then, and neither does any other
        # SyncConsumer in this server process (see the lesson's page).
        for n in range(1, count + 1):
            time.sleep(interval)
            # send() returns once the frame is handed to the server, so it leaves now, not at
            # the end of the loop.
            self.send_json({"n": n})
        self.send_json({"done": True})

    def websocket_disconnect(self, event):
        # Without this, the instance would go on waiting for events that never come.
        raise StopConsumer()

    def send_json(self, data):
        # A raw consumer sends text; JSON is our own choice, so we encode it ourselves.
        self.send({"type": "websocket.send", "text": json.dumps(data)})
