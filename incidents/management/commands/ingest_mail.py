"""`manage.py ingest_mail`: read the service desk mailbox and turn messages into incidents and comments."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from incidents.alerts import conf, mail
from incidents.alerts.services import may_ingest
from itsm import roles


class Command(BaseCommand):
    help = (
        "Read a Maildir (--maildir), an mbox (--mbox) or, when IMAP_URL is set, an IMAP folder (--imap, the "
        "default without a path). New messages open incidents, replies naming INC numbers comment on them; each "
        "Message-ID is processed once, malformed messages are moved aside. Prints a summary line."
    )

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--maildir", type=Path, metavar="PATH", help="a Maildir (new/, cur/, tmp/)")
        source.add_argument("--mbox", type=Path, metavar="PATH", help="an mbox file")
        source.add_argument("--imap", action="store_true", help="the IMAP folder IMAP_URL names")
        parser.add_argument(
            "--user",
            default=None,
            help="the integration account to act as (default INBOUND_EMAIL_USER, 'email-intake'; "
            "created with the Integration role if missing)",
        )
        parser.add_argument(
            "--delete", action="store_true", help="delete processed messages instead of keeping them aside"
        )

    def handle(self, *args, **options):
        actor = self._actor(options["user"] or conf.inbound_email_user())
        try:
            if options["maildir"]:
                summary = mail.ingest_maildir(options["maildir"], actor=actor, delete=options["delete"])
            elif options["mbox"]:
                summary = mail.ingest_mbox(options["mbox"], actor=actor, delete=options["delete"])
            else:
                url = conf.imap_url()
                if not url:
                    raise CommandError("Give --maildir PATH or --mbox PATH, or set IMAP_URL.")
                summary = mail.ingest_imap(url, actor=actor, delete=options["delete"])
        except (FileNotFoundError, ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        for failure in summary.failures:
            self.stderr.write(f"moved aside: {failure}")
        self.stdout.write(f"ingest_mail: {summary.line()}")

    def _actor(self, username: str):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, first_name="Email", last_name="intake")
            user.set_unusable_password()  # an account that only acts, never logs in
            user.save()
            user.groups.add(Group.objects.get(name=roles.INTEGRATION))
            self.stderr.write(f"created the integration user {username!r}")
        if not user.is_active or not may_ingest(user):
            raise CommandError(f"{username} must be an active user with the Integration or ITSM Administrator role.")
        return user
