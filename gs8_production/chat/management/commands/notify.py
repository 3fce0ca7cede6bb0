from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.management.base import BaseCommand, CommandError

from chat.consumers import NOTIFICATIONS_GROUP, message_error

NEEDS_REDIS = """\
notify needs a channel layer shared with the server: set REDIS_URL, for example
    REDIS_URL=redis://127.0.0.1:6379/0 python manage.py notify "TEXT"
(and serve the lesson with the same REDIS_URL). The in-memory channel layer lives inside one
process: this command would send into its own memory, and no connected socket would ever
hear it."""


class Command(BaseCommand):
    help = 'Send {"notification": TEXT} to every connected chat socket, in every room.'

    def add_arguments(self, parser):
        parser.add_argument("text", help="the notification, 1 to 1000 characters")

    def handle(self, *args, text, **options):
        channel_layer = get_channel_layer()
        if isinstance(channel_layer, InMemoryChannelLayer):
            raise CommandError(NEEDS_REDIS)
        error = message_error({"message": text})
        if error:
            raise CommandError(error.replace('"message"', "the notification"))
        # A management command is plain synchronous code: async_to_sync runs the layer's
        # coroutine to completion. The "type" is fixed: this command runs chat_notification
        # in every consumer, and nothing else.
        async_to_sync(channel_layer.group_send)(
            NOTIFICATIONS_GROUP, {"type": "chat.notification", "text": text}
        )
        self.stdout.write(f"Sent to the {NOTIFICATIONS_GROUP!r} group: {text}")
