"""The shape of the communications package: one-way imports, nothing of the practices."""

from tests.helpers import ROOT, import_cycles, import_graph, imports_of


def test_modules_import_each_other_one_way_only():
    edges = import_graph("communications")
    assert import_cycles(edges) == []
    assert "communications.services" not in edges["communications.delivery"]
    assert "communications.services" not in edges["communications.channels"]
    assert "communications.tasks" not in set().union(*(e for n, e in edges.items() if n != "communications.apps"))


def test_communications_imports_no_practice():
    for path in (ROOT / "communications").rglob("*.py"):
        assert not {m for m in imports_of(ROOT, path) if m.split(".")[0] in {"incidents", "problems"}}, path
