"""`manage.py classaccounts 20`: accounts for a class, student01 to student20, printed once."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction


class Command(BaseCommand):
    help = "Create N student accounts (not staff, not superusers) with random passwords."

    def add_arguments(self, parser):
        parser.add_argument("count", type=int, help="how many accounts, 1 to 999")
        parser.add_argument("--prefix", default="student", help="usernames start with this")

    def handle(self, count, prefix, **options):
        if not 1 <= count <= 999:
            raise CommandError("count must be from 1 to 999")
        User = get_user_model()
        width = max(2, len(str(count)))
        names = [f"{prefix}{i:0{width}}" for i in range(1, count + 1)]
        taken = sorted(User.objects.filter(username__in=names).values_list("username", flat=True))
        if taken:
            # A second run must not reset the passwords students were already given.
            raise CommandError(f"these accounts exist already: {', '.join(taken)}; "
                               "use another --prefix, or delete them in the admin")
        # Short enough to read aloud or copy from a projector, random enough for a class.
        accounts = [(name, secrets.token_urlsafe(9)) for name in names]
        with transaction.atomic():
            for name, password in accounts:
                User.objects.create_user(name, password=password)
        self.stdout.write("username     password")
        for name, password in accounts:
            self.stdout.write(f"{name:<12} {password}")
        self.stdout.write(f"{count} accounts created; the passwords are not stored anywhere "
                          "else, so keep this list.")
