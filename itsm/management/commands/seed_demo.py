import importlib

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from itsm import demo

# The practices, in the direction of the import arrows; each may ship `<app>/demo.py`.
PRACTICE_APPS = ["communications", "incidents", "problems", "status"]


class Command(BaseCommand):
    """Load the demo data set (idempotent) and print the admin URL and the logins."""

    help = "Load demo services, groups, SLA policies, people and records; print the logins."

    def handle(self, *args, **options):
        with transaction.atomic():
            ctx = demo.seed()
            for app in PRACTICE_APPS:
                try:
                    module = importlib.import_module(f"{app}.demo")
                except ModuleNotFoundError as exc:
                    if exc.name != f"{app}.demo":
                        raise
                    continue
                module.seed(ctx)
        url = settings.ITSM_SITE_URL.rstrip("/")
        lines = [
            "",
            "=" * 72,
            f"  ITSM console:   {url}/admin/",
            f"  API docs:       {url}/api/docs/",
            f"  Administrator:  admin / {ctx.admin_password}",
            f"  Demo people (password {ctx.user_password}):",
            "    agent, agent2 (Service Desk Agent)   resolver, resolver2 (Resolver)",
            "    mim (Major Incident Manager)         problem (Problem Manager)",
            "    itsmadmin (ITSM Administrator)       readonly (Read Only)",
            "  API token:      .venv/bin/python manage.py issue_token integration",
            "=" * 72,
            "",
        ]
        self.stdout.write("\n".join(lines))
