"""A Python client generated from the served schema (openapi-python-client) parses an incident's whole life.

The client is generated at test time into a temporary folder and talks to the WSGI app through
httpx's WSGI transport: every response of create, detail, list, start, hold, resume, resolve,
reopen, resolve, close, comments and timeline must parse into the generated models.
"""

import importlib
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.core.wsgi import get_wsgi_application

from tests.helpers import openapi_schema

pytestmark = pytest.mark.django_db

PACKAGE = "itsm_api_client"


@pytest.fixture(scope="module")
def client_package(tmp_path_factory):
    folder = tmp_path_factory.mktemp("client")
    spec = folder / "openapi.json"
    spec.write_text(json.dumps(openapi_schema()))
    config = folder / "config.yaml"
    config.write_text(f"project_name_override: itsm-api-client\npackage_name_override: {PACKAGE}\npost_hooks: []\n")
    generator = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(spec),
            "--config",
            str(config),
            "--output-path",
            str(folder / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout, done.stdout  # every schema part understood
    sys.path.insert(0, str(folder / "out"))
    yield importlib.import_module(PACKAGE)
    sys.path.remove(str(folder / "out"))


def api(package, name):
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def parsed(response):
    assert response.parsed is not None and not isinstance(response.parsed, dict), response.content[:500]
    return response.parsed


def test_an_incidents_whole_life_parses(client_package, seeded):
    pkg = client_package
    models = importlib.import_module(f"{PACKAGE}.models")
    client = pkg.AuthenticatedClient(
        base_url="http://localhost",
        token=seeded["Authorization"].split()[1],
        prefix="Token",
        httpx_args={"transport": httpx.WSGITransport(app=get_wsgi_application())},
        raise_on_unexpected_status=True,
    )
    v1 = "v1"
    create = api(pkg, f"{v1}.v1_incidents_create")
    body = models.IncidentWriteRequest(title="Printer on fire", service="vpn", impact=models.LevelEnum(1))
    incident = parsed(create.sync_detailed(client=client, body=body))
    assert incident.number.startswith("INC") and incident.hold_reason is None

    retrieve = api(pkg, f"{v1}.v1_incidents_retrieve")
    assert parsed(retrieve.sync_detailed(str(incident.id), client=client)).id == incident.id
    listing = api(pkg, f"{v1}.v1_incidents_list")
    page = parsed(listing.sync_detailed(client=client, page_size=2))
    assert page.results and all(row.number for row in page.results)

    run = api(pkg, f"{v1}.v1_incidents_transitions_create")
    steps = [
        ("start", {}),
        ("hold", {"hold_reason": "awaiting_vendor"}),
        ("resume", {}),
        ("resolve", {"resolution_code": "fixed", "resolution_notes": "Extinguished."}),
        ("reopen", {"reason": "Smoke again."}),
        ("resolve", {"resolution_code": "workaround", "resolution_notes": "Unplugged."}),
        ("close", {}),
    ]
    for name, fields in steps:
        request = models.TransitionBodyRequest.from_dict(fields)
        after = parsed(run.sync_detailed(str(incident.id), name, client=client, body=request))
        assert after.id == incident.id
    assert str(after.state) == "closed" or getattr(after.state, "value", None) == "closed"

    comments = api(pkg, f"{v1}.v1_incidents_comments_create")
    comment = parsed(
        comments.sync_detailed(str(incident.id), client=client, body=models.CommentWriteRequest(body="All good."))
    )
    assert comment.body == "All good."
    listed = parsed(api(pkg, f"{v1}.v1_incidents_comments_list").sync_detailed(str(incident.id), client=client))
    assert [c.body for c in listed.results][-1] == "All good."  # after the reopen reason
    timeline = parsed(api(pkg, f"{v1}.v1_incidents_timeline_list").sync_detailed(str(incident.id), client=client))
    assert len(timeline.results) >= len(steps)
    transitions = api(pkg, f"{v1}.v1_incidents_transitions_list").sync_detailed(str(incident.id), client=client)
    assert isinstance(transitions.parsed, list)
