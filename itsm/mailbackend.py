"""The embedded default's email backend: each message a `.eml` file, one line on the console.

`make run` sends the demo's notifications through it (no EMAIL_URL set): the terminal shows who
got what and where to open it, instead of every message's full HTML. A `.eml` file opens in any
mail client, and `python -m email` tools read it. Set EMAIL_URL for real delivery.
"""

import itertools
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger(__name__)
_sequence = itertools.count(1)


class EmlFileBackend(BaseEmailBackend):
    """Write each message to EMAIL_FILE_PATH (default var/mail/) as `<time>-<pid>-<n>.eml`."""

    def __init__(self, *, file_path: str | None = None, fail_silently: bool = False, **kwargs) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.directory = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages) -> int:
        """Write every message; the number written."""
        if not email_messages:
            return 0
        sent = 0
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for message in email_messages:
                path = self._write(message)
                recipients = ", ".join(message.recipients())
                logger.info("mail to %s: %s -> %s", recipients, message.subject, _shown(path))
                sent += 1
        except OSError:
            if not self.fail_silently:
                raise
        return sent

    def _write(self, message) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
        path = self.directory / f"{stamp}-{os.getpid()}-{next(_sequence)}.eml"
        path.write_bytes(message.message().as_bytes())
        return path


def _shown(path: Path) -> str:
    """The path relative to the working directory when it is below it (shorter on the console)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
