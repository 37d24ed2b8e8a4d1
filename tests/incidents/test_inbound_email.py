"""Email intake: new messages, replies, loop protection, once per Message-ID, the API and `ingest_mail`."""

import mailbox
from email.message import EmailMessage
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError

from incidents import services
from incidents.alerts import mail
from incidents.models import Comment, InboundMessage, Incident, TimelineEvent
from itsm import roles

pytestmark = pytest.mark.django_db

URL = "/api/v1/inbound-email/"


def message(
    subject="Printer on fire",
    body="The printer on floor 3 is on fire.\n",
    sender="Ada Lovelace <ada@example.org>",
    message_id="<abc-1@mail.example.org>",
    headers=None,
    attachments=(),
    html=None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "servicedesk@example.com"
    msg["Subject"] = subject
    if message_id:
        msg["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        msg[name] = value
    if html is not None and body is None:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(body)
    for filename, data, maintype, subtype in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


@pytest.fixture
def intake(make_user):
    return make_user(roles.INTEGRATION, username="mail-gateway")


@pytest.fixture
def client(api, intake):
    return api.as_user(intake)


def post(client, raw: bytes, content_type="message/rfc822"):
    return client.post(URL, raw, content_type=content_type)


# --- new messages -------------------------------------------------------------------------------
def test_a_new_message_opens_an_email_incident_for_a_known_caller(client, make_user):
    caller = make_user(username="ada", email="ADA@example.org", first_name="Ada", last_name="Lovelace")

    response = post(client, message())

    assert response.status_code == 202, response.json()
    body = response.json()
    incident = Incident.objects.get()
    assert body == {
        "message_id": "<abc-1@mail.example.org>",
        "outcome": "created",
        "reason": "New message",
        "incident": {"id": incident.pk, "number": incident.number},
        "created": True,
        "duplicate": False,
    }
    assert incident.channel == "email"
    assert incident.title == "Printer on fire"
    assert incident.description.startswith("The printer on floor 3 is on fire.")
    assert incident.caller == caller and incident.caller_email == "ada@example.org"
    record = InboundMessage.objects.get()
    assert record.incident == incident and record.outcome == "created" and record.channel == "api"


def test_an_unknown_sender_is_kept_as_free_text(client):
    post(client, message(sender='"Grace Hopper" <grace@navy.example>'))
    incident = Incident.objects.get()
    assert incident.caller is None
    assert (incident.caller_name, incident.caller_email) == ("Grace Hopper", "grace@navy.example")


@pytest.mark.parametrize(
    ("header", "name", "address"),
    [
        (b'"Lovelace, Ada" <Ada@Example.org>', "Lovelace, Ada", "ada@example.org"),
        (b"=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>", "Jürgen Müller", "jm@example.de"),
        (b"plain@example.net", "plain@example.net", "plain@example.net"),
    ],
)
def test_sender_names_and_addresses_are_decoded(client, header, name, address):
    raw = b"From: " + header + b"\r\nSubject: Hi\r\nMessage-ID: <n@x>\r\n\r\nHello\r\n"
    post(client, raw)
    incident = Incident.objects.get()
    assert (incident.caller_name, incident.caller_email) == (name, address)


def test_attachments_are_listed_and_kept_as_metadata(client):
    raw = message(attachments=[("screenshot.png", b"\x89PNG" + b"0" * 96, "image", "png")])
    post(client, raw)
    incident = Incident.objects.get()
    assert "screenshot.png (image/png, 100 bytes)" in incident.description
    assert InboundMessage.objects.get().attachments == [
        {"filename": "screenshot.png", "content_type": "image/png", "size": 100}
    ]


def test_an_html_only_message_becomes_text(client):
    post(client, message(body=None, html="<p>Hello <b>desk</b> &amp; team</p>"))
    assert Incident.objects.get().description.startswith("Hello desk & team")


def test_a_message_without_subject_gets_a_title_from_the_sender(client):
    post(client, message(subject=""))
    assert Incident.objects.get().title == "Email from Ada Lovelace"


def test_text_plain_bodies_are_accepted_too(client):
    assert post(client, message(), content_type="text/plain").status_code == 202


# --- replies ------------------------------------------------------------------------------------
@pytest.fixture
def waiting(make_user, service, group):
    agent = make_user(roles.SERVICE_DESK_AGENT, groups=[group])
    incident = services.open_incident(actor=agent, title="VPN", service=service)
    services.start(incident, actor=agent)
    return services.hold(incident, actor=agent, hold_reason="awaiting_caller")


def test_a_reply_comments_publicly_and_resumes_an_incident_awaiting_the_caller(client, waiting):
    body = "It works again, thanks!\n\nOn Mon, 1 Jan 2024, Service Desk wrote:\n> Please try again.\n"
    response = post(client, message(subject=f"RE: [{waiting.number}] VPN", body=body, message_id="<r1@x>"))

    assert response.status_code == 202
    assert response.json()["outcome"] == "commented"
    assert response.json()["incident"]["number"] == waiting.number
    comment = Comment.objects.get(incident=waiting)
    assert comment.visibility == "public" and comment.author_email == "ada@example.org"
    assert comment.body == "It works again, thanks!"
    waiting.refresh_from_db()
    assert waiting.state == "in_progress" and waiting.hold_reason == ""
    assert Incident.objects.count() == 1


def test_a_reply_to_an_incident_on_hold_for_another_reason_stays_on_hold(client, make_user, service, group):
    agent = make_user(roles.SERVICE_DESK_AGENT, groups=[group])
    incident = services.open_incident(actor=agent, title="VPN", service=service)
    services.start(incident, actor=agent)
    services.hold(incident, actor=agent, hold_reason="awaiting_vendor")

    post(client, message(subject=f"Re: {incident.number}", body="Any news?"))

    incident.refresh_from_db()
    assert incident.state == "on_hold" and Comment.objects.filter(incident=incident).count() == 1


def test_a_reply_to_a_closed_incident_opens_a_new_one(client, administrator, service):
    old = services.open_incident(actor=administrator, title="VPN", service=service)
    services.cancel(old, actor=administrator, reason="Duplicate")

    response = post(client, message(subject=f"Re: {old.number} VPN", body="Broken again"))

    assert response.json()["outcome"] == "created"
    new = Incident.objects.exclude(pk=old.pk).get()
    assert f"Follow-up to {old.number}" in new.description


def test_an_unknown_incident_number_opens_a_new_incident(client):
    response = post(client, message(subject="Re: INC9999999"))
    assert response.json()["outcome"] == "created"


def test_reply_text_cuts_quoted_history():
    assert mail.reply_text("New info\n-----Original Message-----\nFrom: desk") == "New info"
    assert mail.reply_text("Top\n> quoted\nMore") == "Top\nMore"
    assert mail.reply_text("> only quoted") == "> only quoted"  # never lose a reply


# --- loop protection ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Auto-Submitted": "auto-generated; type=oof"},
        {"Precedence": "bulk"},
        {"Precedence": "junk"},
        {"X-Autoreply": "yes"},
        {"X-ITSM-Event": "incident.created"},
        {"Return-Path": "<>"},
    ],
)
def test_auto_replies_bulk_and_our_own_mail_never_open_incidents(client, headers):
    response = post(client, message(headers=headers))

    assert response.status_code == 202
    assert response.json()["outcome"] == "ignored" and response.json()["incident"] is None
    assert Incident.objects.count() == 0
    assert InboundMessage.objects.get().outcome == "ignored"


def test_our_own_message_ids_and_address_are_ignored(client, settings):
    settings.DEFAULT_FROM_EMAIL = "ITSM <itsm@desk.example>"
    own_id = message(message_id="<0b6a8a8e-5d0f-4a44-9d3e-2f3f0c1d2e3f@desk.example>")
    from_us = message(sender="itsm@desk.example", message_id="<other@desk.example>")
    assert post(client, own_id).json()["outcome"] == "ignored"
    assert post(client, from_us).json()["outcome"] == "ignored"
    assert Incident.objects.count() == 0


def test_auto_submitted_no_is_a_person(client):
    assert post(client, message(headers={"Auto-Submitted": "no"})).json()["outcome"] == "created"


def test_a_reply_from_an_auto_responder_does_not_comment(client, waiting):
    post(client, message(subject=f"Out of office: {waiting.number}", headers={"Auto-Submitted": "auto-replied"}))
    assert Comment.objects.filter(incident=waiting).count() == 0


# --- once per Message-ID ------------------------------------------------------------------------
def test_a_message_is_processed_once_by_message_id(client):
    first = post(client, message()).json()
    again = post(client, message(body="resent with another body")).json()

    assert again["duplicate"] is True and again["created"] is False
    assert again["incident"] == first["incident"] and again["outcome"] == "created"
    assert Incident.objects.count() == 1 and InboundMessage.objects.count() == 1


def test_a_message_without_message_id_is_keyed_by_its_bytes(client):
    raw = message(message_id=None)
    first = post(client, raw).json()
    again = post(client, raw).json()

    assert first["message_id"].startswith("<sha256-") and again["duplicate"] is True
    assert Incident.objects.count() == 1


# --- malformed and refused ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [
        b"just some words without any header",
        b"Subject: no sender\r\n\r\nbody\r\n",
        b"From: nobody\r\nSubject: no address\r\n\r\nbody\r\n",
    ],
)
def test_a_malformed_message_is_a_400_naming_the_message(client, raw):
    response = post(client, raw)

    assert response.status_code == 400
    assert "message" in response.json()["errors"]
    assert Incident.objects.count() == 0 and InboundMessage.objects.count() == 0
    assert TimelineEvent.objects.count() == 0


def test_an_empty_body_is_a_400(client):
    response = client.post(URL, b"", content_type="message/rfc822")
    assert response.status_code == 400 and "message" in response.json()["errors"]


def test_json_is_not_an_email(client):
    assert client.post(URL, {"raw": "x"}, format="json").status_code == 415


def test_only_integrations_submit_email(api, make_user):
    response = post(api.as_user(make_user(roles.SERVICE_DESK_AGENT)), message())
    assert response.status_code == 403 and response.json()["type"] == "permission_denied"
    assert InboundMessage.objects.count() == 0


# --- manage.py ingest_mail ----------------------------------------------------------------------
GOOD = message(message_id="<good@x>")
MALFORMED = b"this is not an email at all"
AUTO = message(subject="Out of office", message_id="<auto@x>", headers={"Auto-Submitted": "auto-replied"})


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("ingest_mail", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_ingest_mail_reads_a_maildir_and_moves_malformed_messages_aside(tmp_path, intake):
    box = mailbox.Maildir(tmp_path / "inbox")
    for raw in (GOOD, MALFORMED, AUTO):
        box.add(raw)

    out, err = run("--maildir", str(tmp_path / "inbox"), "--user", intake.username)

    assert "3 messages: 1 created, 0 commented, 1 ignored, 0 duplicates, 1 failed (moved aside)" in out
    assert "moved aside" in err
    assert Incident.objects.count() == 1
    assert len(box) == 0
    failed = mailbox.Maildir(tmp_path / "inbox" / ".failed")
    assert [m.as_bytes().strip() for m in failed] == [MALFORMED]
    assert len(mailbox.Maildir(tmp_path / "inbox" / ".processed")) == 2

    again, _ = run("--maildir", str(tmp_path / "inbox"), "--user", intake.username)
    assert "0 messages" in again


def test_ingest_mail_skips_messages_seen_before(tmp_path, intake):
    box = mailbox.Maildir(tmp_path / "inbox")
    box.add(GOOD)
    run("--maildir", str(tmp_path / "inbox"), "--user", intake.username)
    box.add(GOOD)  # delivered twice

    out, _ = run("--maildir", str(tmp_path / "inbox"), "--user", intake.username, "--delete")

    assert "1 duplicates" in out and Incident.objects.count() == 1
    assert len(mailbox.Maildir(tmp_path / "inbox" / ".processed")) == 1  # --delete: not kept again


def test_ingest_mail_leaves_messages_for_retry_on_a_database_error(tmp_path, intake, monkeypatch):
    box = mailbox.Maildir(tmp_path / "inbox")
    box.add(GOOD)

    def down(*args, **kwargs):
        raise OperationalError("the database is down")

    monkeypatch.setattr(mail, "process_message", down)
    out, _ = run("--maildir", str(tmp_path / "inbox"), "--user", intake.username)

    assert "1 left for retry" in out and len(box) == 1


def test_ingest_mail_reads_an_mbox(tmp_path, intake):
    path = tmp_path / "desk.mbox"
    box = mailbox.mbox(path)
    for raw in (GOOD, MALFORMED, AUTO):
        box.add(raw)
    box.flush()
    box.close()

    out, _ = run("--mbox", str(path), "--user", intake.username)

    assert "3 messages: 1 created, 0 commented, 1 ignored, 0 duplicates, 1 failed" in out
    assert len(mailbox.mbox(path)) == 0
    assert len(mailbox.mbox(f"{path}.failed")) == 1
    assert len(mailbox.mbox(f"{path}.processed")) == 2


def test_ingest_mail_creates_its_integration_user(tmp_path, db):
    box = mailbox.Maildir(tmp_path / "inbox")
    box.add(GOOD)
    out, err = run("--maildir", str(tmp_path / "inbox"))
    assert "created the integration user 'email-intake'" in err
    assert Incident.objects.get().created_by.username == "email-intake"


def test_ingest_mail_refuses_a_user_without_the_role(tmp_path, make_user):
    mailbox.Maildir(tmp_path / "inbox")
    user = make_user(roles.SERVICE_DESK_AGENT)
    with pytest.raises(CommandError, match="Integration"):
        run("--maildir", str(tmp_path / "inbox"), "--user", user.username)


def test_ingest_mail_needs_a_source(db, monkeypatch):
    monkeypatch.delenv("IMAP_URL", raising=False)
    with pytest.raises(CommandError, match="IMAP_URL"):
        run()


def test_ingest_mail_reports_a_missing_maildir(tmp_path, intake):
    with pytest.raises(CommandError):
        run("--maildir", str(tmp_path / "nothing"), "--user", intake.username)


class FakeImap:
    """Stands in for the IMAP server (the outside world): a folder of messages with flags."""

    def __init__(self, messages: dict[bytes, bytes]):
        self.messages = messages
        self.flags: dict[bytes, set[str]] = {uid: set() for uid in messages}
        self.folders: dict[str, list[bytes]] = {}
        self.expunged = False
        self.logged_out = False

    def select(self, folder):
        return "OK", [str(len(self.messages)).encode()]

    def uid(self, command, *args):
        if command == "SEARCH":
            unseen = [uid for uid in self.messages if "\\Seen" not in self.flags[uid]]
            return "OK", [b" ".join(unseen)]
        if command == "FETCH":
            uid = args[0]
            return "OK", [(uid + b" (BODY[] {n})", self.messages[uid]), b")"]
        if command == "STORE":
            uid, _, flags = args
            self.flags[uid] |= set(flags.strip("()").split())
            return "OK", []
        if command == "COPY":
            uid, folder = args
            self.folders.setdefault(folder, []).append(self.messages[uid])
            return "OK", []
        raise AssertionError(command)

    def create(self, folder):
        return "OK", []

    def expunge(self):
        self.expunged = True
        for uid in [u for u, f in self.flags.items() if "\\Deleted" in f]:
            del self.messages[uid], self.flags[uid]
        return "OK", []

    def logout(self):
        self.logged_out = True


def test_ingest_imap_flags_processed_messages_and_moves_malformed_ones(intake, monkeypatch):
    server = FakeImap({b"1": GOOD, b"2": MALFORMED, b"3": AUTO})
    monkeypatch.setenv("IMAP_FAILED_FOLDER", "Failed")

    summary = mail.ingest_imap("imaps://desk:pw@imap.example/INBOX", actor=intake, connect=lambda _: (server, "INBOX"))

    assert (summary.created, summary.ignored, summary.failed) == (1, 1, 1)
    assert server.folders == {"Failed": [MALFORMED]}
    assert set(server.messages) == {b"1", b"3"}
    assert all("\\Seen" in server.flags[uid] for uid in server.messages)
    assert server.logged_out
    assert mail.ingest_imap("imaps://x", actor=intake, connect=lambda url: (server, "INBOX")).total == 0


def test_ingest_mail_uses_imap_when_imap_url_is_set(intake, monkeypatch):
    server = FakeImap({b"7": GOOD})
    monkeypatch.setenv("IMAP_URL", "imaps://desk:pw@imap.example/Support")
    monkeypatch.setattr(mail, "_imap_connect", lambda url: (server, "Support"))

    out, _ = run("--user", intake.username)

    assert "1 messages: 1 created" in out
