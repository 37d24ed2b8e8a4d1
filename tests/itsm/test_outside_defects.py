"""Defects seen from outside: pages without collected static files, the login redirect, demo mail."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

PRODUCTION_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "itsm.staticfiles.StaticFilesStorage"},
}


@pytest.fixture
def not_collected(settings, tmp_path):
    """Production static storage (DEBUG off), before any `collectstatic`: no manifest at all."""
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    settings.STORAGES = PRODUCTION_STORAGES
    return settings


@pytest.mark.parametrize("url", ["/api/docs/", "/admin/login/"])
def test_pages_answer_without_a_static_manifest(client, not_collected, url):
    response = client.get(url)

    assert response.status_code == 200
    assert b"/static/" in response.content  # static URLs still rendered (the unhashed names)


def test_a_production_process_before_collectstatic_serves_pages_and_their_static_files(tmp_path):
    """The real settings in their own process (DEBUG off, nothing collected): pages and assets 200."""
    script = """
import re, django
django.setup()
from django.test import Client
client = Client()
page = client.get("/admin/login/")
asset = re.search(rb'/static/[^"]+[.]css', page.content).group().decode()
print(page.status_code, client.get("/api/docs/").status_code, client.get(asset).status_code, asset)
"""
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="itsm.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="testserver",
        STATIC_ROOT=str(tmp_path / "not-collected"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        ITSM_VAR_DIR=str(tmp_path / "var"),
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr[-3000:]
    login, docs, asset, name = result.stdout.split()
    assert (login, docs, asset) == ("200", "200", "200"), name


def test_logging_in_without_next_lands_on_the_console(client, make_user):
    from itsm import roles

    make_user(roles.SERVICE_DESK_AGENT, username="alice")  # the factory's password: "pw"

    response = client.post("/admin/login/", {"username": "alice", "password": "pw"})

    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get(response["Location"]).status_code == 200


def test_demo_mail_is_a_file_per_message_and_one_log_line(tmp_path, caplog):
    from email import message_from_bytes

    from django.core import mail

    with mail.get_connection("itsm.mailbackend.EmlFileBackend", file_path=str(tmp_path)) as connection:
        message = mail.EmailMultiAlternatives(
            "[INC0000001] Payments down", "plain body", "itsm@localhost", ["alice@example.com"]
        )
        message.attach_alternative("<html><body><p>" + "x" * 5000 + "</p></body></html>", "text/html")
        second = mail.EmailMessage("Second", "body", "itsm@localhost", ["bob@example.com"], connection=connection)
        with caplog.at_level("INFO", logger="itsm.mailbackend"):
            assert connection.send_messages([message, second]) == 2

    files = sorted(tmp_path.glob("*.eml"))
    assert len(files) == 2
    parsed = message_from_bytes(files[0].read_bytes())
    assert parsed["Subject"] == "[INC0000001] Payments down" and parsed["To"] == "alice@example.com"
    assert parsed.is_multipart()  # the whole message, HTML part included, is in the file
    lines = [r.getMessage() for r in caplog.records if r.name == "itsm.mailbackend"]
    assert len(lines) == 2 and all("\n" not in line and "<html>" not in line for line in lines)
    assert lines[0].startswith("mail to alice@example.com: [INC0000001] Payments down -> ")


@pytest.mark.skipif("EMAIL_URL" in os.environ, reason="EMAIL_URL is set for this run")
def test_the_embedded_default_sends_mail_to_var_mail():
    from itsm import settings as product

    assert product.EMAIL_BACKEND == "itsm.mailbackend.EmlFileBackend"
    assert product.EMAIL_FILE_PATH == str(product.VAR_DIR / "mail")
