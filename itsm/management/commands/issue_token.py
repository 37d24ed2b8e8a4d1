from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    """Print a new API token for a user, alone on one line (the old one is revoked)."""

    help = "Issue a new API token for USERNAME and print the key alone on one line."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user called '{username}'.") from exc
        if not user.is_active:
            raise CommandError(f"User '{username}' is inactive.")
        Token.objects.filter(user=user).delete()
        token = Token.objects.create(user=user)
        self.stdout.write(token.key)
