"""The shared core imports no app to its right, and its modules import each other one way."""

from tests.helpers import ROOT, import_cycles, import_graph, imports_of

RIGHT_OF_ITSM = {"communications", "incidents", "problems", "status", "reporting", "portal"}


def test_itsm_imports_no_app_to_its_right():
    for path in (ROOT / "itsm").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        assert not {m for m in imports_of(ROOT, path) if m.split(".")[0] in RIGHT_OF_ITSM}, path


def test_itsm_modules_import_each_other_one_way_only():
    assert import_cycles(import_graph("itsm")) == []
