"""Email intake: a message to the service desk opens an incident, a reply comments on one.

`process_message(raw, actor=..., channel=...)` handles one RFC 822 message:

- **Once per Message-ID.** An `InboundMessage` row with a unique `message_id` is inserted first,
  in the same transaction as the work; a second delivery (or a concurrent one, which waits on the
  unique index) finds it and only reports the first outcome. A message without a Message-ID is
  keyed by a hash of its bytes.
- **Loop protection.** Auto-replies and bulk mail (`Auto-Submitted` other than `no`,
  `Precedence: bulk/list/junk`, `X-Autoreply`/`X-Autorespond`), bounces (null Return-Path,
  `multipart/report`, MAILER-DAEMON) and our own notifications (an `X-ITSM-*` header, a
  Message-ID of ours, our From address) are recorded as ignored and never open an incident.
- **Reply.** A subject carrying an incident number (`INC0000123`) of an incident that is not
  closed or cancelled adds the reply (quoted text cut off) as a public comment with the sender as
  `author_email`, and resumes the incident if it was on hold awaiting the caller.
- **New message.** Otherwise an incident is opened: channel `email`, title from the subject,
  description from the text body (HTML reduced to text when there is no text part), caller the
  active user with the sender's address if exactly one has it, else the sender's name and
  address as free text; attachments are listed in the description and kept as metadata
  (`InboundMessage.attachments`), their content is not stored.

A message that cannot be understood (no headers, no sender address, unparseable) raises
`MalformedMessage`; the mailbox readers below move it aside instead of retrying it forever.

Mailbox readers (used by `manage.py ingest_mail`): each processed message (including ignored
ones and duplicates) leaves the inbox for `processed` (or is deleted with `delete=True`), each
malformed one goes to `failed`, and one that hit a database error stays for the next run:

- Maildir: subfolders `.processed` and `.failed` (Maildir++ names);
- mbox: `PATH.processed` and `PATH.failed` mboxes (the inbox is locked while it is rewritten);
- IMAP (`IMAP_URL`): unseen messages of the folder; processed ones are flagged `\\Seen` (deleted
  with `delete=True`), malformed ones are copied to IMAP_FAILED_FOLDER and deleted.
"""

import email
import email.policy
import hashlib
import html
import imaplib
import logging
import mailbox
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils.html import strip_tags

from incidents import services
from incidents.alerts import conf
from incidents.alerts.services import may_ingest
from incidents.choices import TERMINAL_STATES, Channel, HoldReason, IncidentState, Visibility
from incidents.models import InboundMessage, Incident
from incidents.models.alerts import InboundOutcome

logger = logging.getLogger(__name__)

NUMBER_RE = re.compile(r"\bINC\d{7}\b", re.IGNORECASE)
BULK_PRECEDENCE = {"bulk", "list", "junk"}
AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond")
BOUNCE_SENDERS = {"mailer-daemon", "postmaster"}
UUID_LOCAL_PART = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
# Lines where a mail client starts quoting the message replied to.
REPLY_SEPARATORS = [
    re.compile(r"^-{2,}\s*original message\s*-{2,}$", re.IGNORECASE),
    re.compile(r"^on\b.{0,200}\bwrote:$", re.IGNORECASE),
    re.compile(r"^am\b.{0,200}\bschrieb\b.{0,200}:$", re.IGNORECASE),
    re.compile(r"^le\b.{0,200}\ba écrit\s?:$", re.IGNORECASE),
    re.compile(r"^_{10,}$"),
]
MAX_DESCRIPTION = 100_000
TITLE_LENGTH = 255


class MalformedMessage(ValueError):
    """The bytes are not a message we can act on (the reason says why)."""


@dataclass(frozen=True)
class Attachment:
    """Metadata of one attachment (its content is not stored)."""

    filename: str
    content_type: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"filename": self.filename, "content_type": self.content_type, "size": self.size}


@dataclass(frozen=True)
class ParsedMessage:
    """What intake needs from a message."""

    message: EmailMessage
    message_id: str
    sender_name: str
    sender_email: str
    subject: str
    text: str
    attachments: list[Attachment]


@dataclass(frozen=True)
class IntakeResult:
    """What became of a message; `duplicate` when it had been processed before (nothing done now)."""

    message_id: str
    outcome: str
    reason: str
    incident: Incident | None
    duplicate: bool = False

    @property
    def created(self) -> bool:
        return self.outcome == InboundOutcome.CREATED and not self.duplicate

    def as_dict(self) -> dict[str, Any]:
        """The API's answer."""
        return {
            "message_id": self.message_id,
            "outcome": self.outcome,
            "reason": self.reason,
            "incident": {"id": self.incident.pk, "number": self.incident.number} if self.incident else None,
            "created": self.created,
            "duplicate": self.duplicate,
        }


# --- parsing ------------------------------------------------------------------------------------
def _our_domain() -> str:
    return settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >").lower()


def _our_address() -> str:
    addresses = getaddresses([settings.DEFAULT_FROM_EMAIL])
    return (addresses[0][1] if addresses else settings.DEFAULT_FROM_EMAIL).lower()


def message_key(message_id: str, raw: bytes) -> str:
    """The key a message is remembered by: its Message-ID, or a hash of its bytes without one."""
    message_id = " ".join(message_id.split())
    if not message_id:
        return f"<sha256-{hashlib.sha256(raw).hexdigest()}@itsm.invalid>"
    if len(message_id) > 255:
        return f"<sha256-{hashlib.sha256(message_id.encode()).hexdigest()}@itsm.invalid>"
    return message_id


def _decoded_text(part) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError, AssertionError, ValueError):
        # An unknown or lying charset: keep the text readable rather than drop the message.
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")


def _body_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    text = _decoded_text(body)
    if not isinstance(text, str):
        return ""
    if body.get_content_type() == "text/html":
        text = html.unescape(strip_tags(text))
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip()


def _attachments(message: EmailMessage) -> list[Attachment]:
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else len(str(part.get_payload()))
        name = part.get_filename() or f"unnamed.{part.get_content_subtype()}"
        found.append(Attachment(filename=name[:255], content_type=part.get_content_type(), size=size))
    return found


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse RFC 822 bytes with the stdlib `email` package; MalformedMessage when we cannot use them."""
    if not raw or not raw.strip():
        raise MalformedMessage("The message is empty.")
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        if not message.keys():
            raise MalformedMessage("The message has no headers.")
        from_header = message.get("From")
        if from_header is None:
            raise MalformedMessage("The message has no From header.")
        # The policy's structured header decodes RFC 2047 names and keeps quoted commas together.
        structured = getattr(from_header, "addresses", ())
        addresses = [(a.display_name, a.addr_spec) for a in structured if "@" in a.addr_spec]
        addresses = addresses or [a for a in getaddresses([str(from_header)]) if "@" in a[1]]
        if not addresses:
            raise MalformedMessage(f"The From header has no address: {str(from_header)[:100]!r}.")
        sender_name, sender_email = addresses[0]
        subject = " ".join(str(message.get("Subject") or "").split())
        message_id = message_key(str(message.get("Message-ID") or ""), raw)
        text = _body_text(message)
        attachments = _attachments(message)
    except MalformedMessage:
        raise
    except Exception as exc:  # the parser's odd corners (broken MIME structure, bad header encodings)
        raise MalformedMessage(f"The message cannot be parsed: {type(exc).__name__}: {exc}") from exc
    return ParsedMessage(
        message=message,
        message_id=message_id,
        sender_name=sender_name.strip(),
        sender_email=sender_email.strip().lower(),
        subject=subject,
        text=text,
        attachments=attachments,
    )


def loop_reason(parsed: ParsedMessage) -> str:
    """Why this message must not open an incident or comment (auto-reply, bulk, bounce, our own); '' if none."""
    message = parsed.message
    auto = str(message.get("Auto-Submitted") or "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = str(message.get("Precedence") or "").strip().lower()
    if precedence in BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    for header in AUTO_REPLY_HEADERS:
        if message.get(header) is not None:
            return f"{header} header (auto-reply)"
    own = [name for name in message.keys() if name.lower().startswith("x-itsm-")]
    if own:
        return f"Our own notification ({own[0]} header)"
    local, _, domain = parsed.message_id.strip("<>").rpartition("@")
    if domain.lower() == _our_domain() and UUID_LOCAL_PART.match(local):
        return "Our own notification (Message-ID)"
    if parsed.sender_email == _our_address():
        return "Sent from the service desk's own address"
    if message.get_content_type() == "multipart/report":
        return "A delivery or read report"
    return_path = message.get("Return-Path")
    if return_path is not None and str(return_path).strip() in ("<>", ""):
        return "Null sender (a bounce)"
    if parsed.sender_email.split("@")[0] in BOUNCE_SENDERS:
        return "Sent by a mail system (bounce)"
    return ""


def reply_text(text: str) -> str:
    """The new part of a reply: cut at the quoting client's separator, drop `>` quoted lines."""
    kept = []
    for line in text.split("\n"):
        if any(separator.match(line.strip()) for separator in REPLY_SEPARATORS):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    reply = "\n".join(kept).strip()
    return reply or text.strip()  # never lose a reply that is only quoted text


def _attachment_lines(attachments: list[Attachment]) -> list[str]:
    if not attachments:
        return []
    lines = ["", "Attachments (listed; not stored):"]
    lines += [f"- {a.filename} ({a.content_type}, {a.size} bytes)" for a in attachments]
    return lines


# --- the use case -------------------------------------------------------------------------------
def process_message(raw: bytes, *, actor, channel: str) -> IntakeResult:
    """Handle one message once (see the module docstring); MalformedMessage writes nothing."""
    if not may_ingest(actor):
        raise PermissionDenied("Only integrations and ITSM Administrators may submit inbound email.")
    parsed = parse_message(raw)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = InboundMessage.objects.create(
                    message_id=parsed.message_id,
                    channel=channel,
                    sender=parsed.sender_email[:254],
                    subject=parsed.subject[:255],
                    outcome=InboundOutcome.IGNORED,  # settled below, in the same transaction
                    attachments=[a.as_dict() for a in parsed.attachments],
                )
        except IntegrityError:
            first = InboundMessage.objects.select_related("incident").get(message_id=parsed.message_id)
            return IntakeResult(first.message_id, first.outcome, first.reason, first.incident, duplicate=True)

        reason = loop_reason(parsed)
        incident = None
        if reason:
            outcome = InboundOutcome.IGNORED
        else:
            target = _replied_incident(parsed.subject)
            if target is not None:
                incident = _comment(target, parsed, actor)
                outcome = InboundOutcome.COMMENTED
                reason = f"Reply to {incident.number}"
            else:
                incident = _open(parsed, actor)
                outcome = InboundOutcome.CREATED
                reason = "New message"
        record.outcome, record.reason, record.incident = outcome, reason[:255], incident
        record.save(update_fields=["outcome", "reason", "incident"])
        if reason and outcome == InboundOutcome.IGNORED:
            logger.info("inbound email %s ignored: %s", parsed.message_id, reason)
        return IntakeResult(parsed.message_id, outcome, record.reason, incident)


def _replied_incident(subject: str) -> Incident | None:
    """The open or resolved incident a subject names; closed and cancelled ones get a new incident."""
    for match in NUMBER_RE.finditer(subject):
        incident = Incident.objects.filter(number=match.group(0).upper()).first()
        if incident is not None and incident.state not in TERMINAL_STATES:
            return incident
    return None


def _comment(incident: Incident, parsed: ParsedMessage, actor) -> Incident:
    body = "\n".join([reply_text(parsed.text) or "(The reply has no text.)", *_attachment_lines(parsed.attachments)])
    services.add_comment(
        incident, actor=actor, body=body.strip(), visibility=Visibility.PUBLIC, author_email=parsed.sender_email
    )
    incident.refresh_from_db()
    if incident.state == IncidentState.ON_HOLD and incident.hold_reason == HoldReason.AWAITING_CALLER:
        incident = services.run_transition(incident, "resume", actor=actor)
    return incident


def _caller(parsed: ParsedMessage) -> dict[str, Any]:
    users = list(get_user_model().objects.filter(email__iexact=parsed.sender_email, is_active=True)[:2])
    fields: dict[str, Any] = {"caller_email": parsed.sender_email[:254]}
    if len(users) == 1:  # two accounts sharing an address: do not guess
        fields["caller"] = users[0]
        fields["caller_name"] = (users[0].get_full_name() or parsed.sender_name or users[0].get_username())[:150]
    else:
        fields["caller_name"] = (parsed.sender_name or parsed.sender_email)[:150]
    return fields


def _open(parsed: ParsedMessage, actor) -> Incident:
    title = parsed.subject or f"Email from {parsed.sender_name or parsed.sender_email}"
    if len(title) > TITLE_LENGTH:
        title = title[: TITLE_LENGTH - 1] + "…"
    lines = [parsed.text or "(The message has no text.)"]
    for match in NUMBER_RE.finditer(parsed.subject):
        old = Incident.objects.filter(number=match.group(0).upper()).first()
        if old is not None:
            lines += ["", f"Follow-up to {old.number}, which is {old.state}."]
    lines += _attachment_lines(parsed.attachments)
    description = "\n".join(lines)[:MAX_DESCRIPTION]
    return services.open_incident(
        actor=actor, title=title, description=description, channel=Channel.EMAIL, **_caller(parsed)
    )


# --- mailbox readers ----------------------------------------------------------------------------
@dataclass
class IntakeSummary:
    """Counts of one mailbox run (the command prints `line()`)."""

    created: int = 0
    commented: int = 0
    ignored: int = 0
    duplicates: int = 0
    failed: int = 0
    retry: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.commented + self.ignored + self.duplicates + self.failed + self.retry

    def add(self, result: IntakeResult) -> None:
        if result.duplicate:
            self.duplicates += 1
        elif result.outcome == InboundOutcome.CREATED:
            self.created += 1
        elif result.outcome == InboundOutcome.COMMENTED:
            self.commented += 1
        else:
            self.ignored += 1

    def line(self) -> str:
        return (
            f"{self.total} messages: {self.created} created, {self.commented} commented, {self.ignored} ignored, "
            f"{self.duplicates} duplicates, {self.failed} failed (moved aside), {self.retry} left for retry"
        )


OK, FAILED, RETRY = "ok", "failed", "retry"


def handle(raw: bytes, *, actor, channel: str, summary: IntakeSummary, label: str) -> str:
    """Process one message of a mailbox run; OK, FAILED (move it aside) or RETRY (leave it)."""
    try:
        result = process_message(raw, actor=actor, channel=channel)
    except (MalformedMessage, ValidationError) as exc:
        logger.warning("inbound email %s is malformed and is moved aside: %s", label, exc)
        summary.failed += 1
        summary.failures.append(f"{label}: {exc}")
        return FAILED
    except DatabaseError:
        logger.exception("inbound email %s hit a database error; left for the next run", label)
        summary.retry += 1
        return RETRY
    except PermissionDenied:
        raise  # the intake account is misconfigured: stop, every message would fail the same way
    except Exception as exc:
        # Not worth retrying forever: keep it aside for a person to look at.
        logger.exception("inbound email %s could not be processed and is moved aside", label)
        summary.failed += 1
        summary.failures.append(f"{label}: {type(exc).__name__}: {exc}")
        return FAILED
    summary.add(result)
    return OK


def ingest_maildir(path: Path | str, *, actor, delete: bool = False) -> IntakeSummary:
    """Read every message of a Maildir (new and cur) once; see the module docstring."""
    if not Path(path, "new").is_dir():
        raise FileNotFoundError(f"{path} is not a Maildir (no new/ folder).")
    inbox = mailbox.Maildir(str(path), factory=None, create=False)
    summary = IntakeSummary()
    folders: dict[str, mailbox.Maildir] = {}

    def folder(name: str) -> mailbox.Maildir:
        if name not in folders:
            folders[name] = inbox.add_folder(name)  # `.name`, created on first use
        return folders[name]

    for key in sorted(inbox.iterkeys()):
        try:
            raw = inbox.get_bytes(key)
        except KeyError:
            continue  # another reader took it meanwhile
        verdict = handle(raw, actor=actor, channel="maildir", summary=summary, label=key)
        if verdict == RETRY:
            continue
        if verdict == OK and not delete:
            folder("processed").add(raw)
        elif verdict == FAILED:
            folder("failed").add(raw)
        inbox.remove(key)
    return summary


def ingest_mbox(path: Path | str, *, actor, delete: bool = False) -> IntakeSummary:
    """Read every message of an mbox once; see the module docstring."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not an mbox file.")
    inbox = mailbox.mbox(str(path), create=False)
    summary = IntakeSummary()
    aside: dict[str, mailbox.mbox] = {}

    def box(suffix: str) -> mailbox.mbox:
        if suffix not in aside:
            aside[suffix] = mailbox.mbox(f"{path}.{suffix}", create=True)
            aside[suffix].lock()
        return aside[suffix]

    inbox.lock()  # fcntl + dot-lock, which delivery agents honour while we rewrite the file
    try:
        for key in list(inbox.iterkeys()):
            raw = inbox.get_bytes(key)
            verdict = handle(raw, actor=actor, channel="mbox", summary=summary, label=f"{path.name}#{key}")
            if verdict == RETRY:
                continue
            if verdict == OK and not delete:
                box("processed").add(raw)
            elif verdict == FAILED:
                box("failed").add(raw)
            inbox.remove(key)
        for other in aside.values():
            other.flush()
        inbox.flush()
    finally:
        for other in aside.values():
            other.unlock()
            other.close()
        inbox.unlock()
        inbox.close()
    return summary


def _imap_connect(url: str) -> tuple[imaplib.IMAP4, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps"):
        raise ValueError(f"IMAP_URL must start with imap:// or imaps://, not {parts.scheme}://")
    secure = parts.scheme == "imaps"
    port = parts.port or (993 if secure else 143)
    client = imaplib.IMAP4_SSL(parts.hostname, port) if secure else imaplib.IMAP4(parts.hostname, port)
    if not secure:
        client.starttls()  # never send the password in the clear
    client.login(unquote(parts.username or ""), unquote(parts.password or ""))
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return client, folder


def _imap_uids(client) -> Iterator[bytes]:
    status, data = client.uid("SEARCH", None, "UNSEEN")
    if status != "OK":
        raise OSError(f"IMAP SEARCH failed: {data!r}")
    yield from (data[0] or b"").split()


def ingest_imap(
    url: str, *, actor, delete: bool = False, connect: Callable[[str], tuple[Any, str]] | None = None
) -> IntakeSummary:
    """Read the unseen messages of the IMAP folder IMAP_URL names; see the module docstring.

    `connect(url) -> (client, folder)` defaults to a real imaplib connection (tests pass a fake server).
    """
    client, folder = (connect or _imap_connect)(url)
    summary = IntakeSummary()
    failed_folder = conf.imap_failed_folder()
    try:
        status, data = client.select(folder)
        if status != "OK":
            raise OSError(f"IMAP SELECT {folder} failed: {data!r}")
        expunge = False
        for uid in list(_imap_uids(client)):
            status, data = client.uid("FETCH", uid, "(BODY.PEEK[])")  # PEEK: unseen until processed
            raw = next((item[1] for item in data or [] if isinstance(item, tuple)), None)
            if status != "OK" or raw is None:
                summary.retry += 1
                continue
            label = f"{folder}/{uid.decode()}"
            verdict = handle(raw, actor=actor, channel="imap", summary=summary, label=label)
            if verdict == OK:
                client.uid("STORE", uid, "+FLAGS", "(\\Deleted)" if delete else "(\\Seen)")
                expunge = expunge or delete
            elif verdict == FAILED:
                client.create(failed_folder)  # an error when it exists already, which is fine
                status, _ = client.uid("COPY", uid, failed_folder)
                if status == "OK":
                    client.uid("STORE", uid, "+FLAGS", "(\\Deleted)")
                    expunge = True
        if expunge:
            client.expunge()
    finally:
        try:
            client.logout()
        except Exception:  # already disconnected
            logger.debug("IMAP logout failed", exc_info=True)
    return summary
