import io

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from itsm import roles
from itsm.models import BusinessCalendar, Service
from tests.factories import BusinessCalendarFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):
    user = make_user(roles.ADMINISTRATOR, is_staff=True)
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/itsm/service/",
        "/admin/itsm/service/add/",
        "/admin/itsm/category/",
        "/admin/itsm/assignmentgroup/",
        "/admin/itsm/prioritymatrixentry/",
        "/admin/itsm/businesscalendar/",
        "/admin/itsm/businesscalendar/add/",
        "/admin/itsm/slapolicy/",
        "/admin/itsm/slapolicy/add/",
    ],
)
def test_admin_pages_render(admin_client, url):
    ServiceFactory()
    assert admin_client.get(url).status_code == 200


def test_sidebar_groups_like_an_agent_thinks(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert "Configuration" in html
    assert "/admin/itsm/service/" in html
    assert "/admin/incidents/incident/?queue=my_work" in html  # the saved "My work" view
    assert "SLA clocks" in html


def test_service_history_is_kept(admin_client):
    service = ServiceFactory(name="Old")
    admin_client.post(
        f"/admin/itsm/service/{service.pk}/change/",
        {
            "slug": service.slug,
            "name": "New",
            "criticality": "high",
            "downtime_cost_per_hour": "10",
            "active": "on",
            "description": "",
        },
    )
    service.refresh_from_db()
    assert service.name == "New"
    assert [h.name for h in service.history.order_by("history_date")] == ["Old", "New"]
    assert admin_client.get(f"/admin/itsm/service/{service.pk}/history/").status_code == 200


def test_reader_cannot_change_in_admin(client, make_user):
    user = make_user(roles.READ_ONLY, is_staff=True)
    client.force_login(user)
    service = ServiceFactory(name="Keep")
    assert client.get("/admin/itsm/service/").status_code == 200
    client.post(f"/admin/itsm/service/{service.pk}/change/", {"slug": service.slug, "name": "Changed"})
    service.refresh_from_db()
    assert service.name == "Keep"


def test_calendar_inline_refuses_overlaps(admin_client):
    calendar = BusinessCalendarFactory(hours=[])
    data = {
        "name": calendar.name,
        "timezone": "Europe/Berlin",
        "description": "",
        "working_periods-TOTAL_FORMS": "2",
        "working_periods-INITIAL_FORMS": "0",
        "working_periods-0-weekday": "0",
        "working_periods-0-start": "09:00",
        "working_periods-0-end": "12:00",
        "working_periods-1-weekday": "0",
        "working_periods-1-start": "11:00",
        "working_periods-1-end": "13:00",
        "holidays-TOTAL_FORMS": "0",
        "holidays-INITIAL_FORMS": "0",
    }
    response = admin_client.post(f"/admin/itsm/businesscalendar/{calendar.pk}/change/", data)
    assert response.status_code == 200  # the form comes back with the error
    assert "overlaps" in response.content.decode()
    assert calendar.working_periods.count() == 0


def test_import_holidays(admin_client):
    calendar = BusinessCalendarFactory()
    response = admin_client.post(
        f"/admin/itsm/businesscalendar/{calendar.pk}/import-holidays/", {"country": "DE", "year": 2026}
    )
    assert response.status_code == 302
    dates = {d.isoformat() for d in calendar.holidays.values_list("date", flat=True)}
    assert {"2026-01-01", "2026-12-25", "2026-10-03"} <= dates


def test_issue_token_prints_key_alone(make_user):
    user = make_user(roles.INTEGRATION, username="monitoring")
    out = io.StringIO()
    call_command("issue_token", "monitoring", stdout=out)
    key = out.getvalue().strip()
    assert "\n" not in key and len(key) == 40
    assert Token.objects.get(user=user).key == key


def test_issue_token_unknown_user():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("issue_token", "ghost")


def test_seed_demo_is_idempotent(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=io.StringIO())
    assert "admin /" in out.getvalue()
    assert Service.objects.count() == 5
    assert BusinessCalendar.objects.filter(name="Business hours").exists()
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    for role in roles.ALL_ROLES:
        assert users.filter(groups__name=role).exists(), role


def test_sla_policy_admin_refuses_bad_input(admin_client):
    from itsm.models import SlaPolicy

    calendar = BusinessCalendar.objects.get(name="24x7")
    response = admin_client.post(
        "/admin/itsm/slapolicy/add/",
        {
            "name": "Bad",
            "kind": "resolution",
            "priorities": "[1]",
            "target_minutes": "0",
            "calendar": calendar.pk,
            "pause_states": '["closed"]',
            "warning_thresholds": "[90, 50]",
            "actions": '{"breach": ["explode"]}',
            "active": "on",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert {"target_minutes", "pause_states", "warning_thresholds", "actions"} <= set(errors), errors
    assert not SlaPolicy.objects.filter(name="Bad").exists()


def test_check_deploy_passes_with_the_documented_production_settings():
    """The README's production environment passes `manage.py check --deploy` (run as its own process)."""
    import os
    import secrets
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(60),
            "ALLOWED_HOSTS": "itsm.example.com",
            "SECURE_SSL_REDIRECT": "true",
            "SESSION_COOKIE_SECURE": "true",
            "CSRF_COOKIE_SECURE": "true",
            "SECURE_HSTS_SECONDS": "31536000",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
            "SECURE_HSTS_PRELOAD": "true",
            "USE_X_FORWARDED_PROTO": "true",
            "DATABASE_URL": "sqlite:////tmp/itsm-deploy-check.sqlite3",
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_secret_key_is_required_without_debug():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE", "SECRET_KEY"}}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
