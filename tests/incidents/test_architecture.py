"""The incident practice imports one way: tasks -> SLA firing -> services -> SLA bookkeeping -> pure replay."""

from tests.helpers import import_cycles, import_graph


def test_incident_modules_import_each_other_one_way_only():
    assert import_cycles(import_graph("incidents")) == []


def test_the_sla_rooms_import_downwards_only():
    edges = import_graph("incidents")
    assert not {"incidents.services", "incidents.tasks", "incidents.sla.firing"} & edges["incidents.sla.clocks"]
    assert not {"incidents.sla.clocks", "incidents.sla.firing"} & edges["incidents.sla.replay"]
    assert "incidents.sla.firing" not in edges["incidents.services"]
    assert "incidents.tasks" not in edges["incidents.sla.firing"]
