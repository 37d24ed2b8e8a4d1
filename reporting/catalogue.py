"""Every report module, imported once at start-up so each registers its report."""

from importlib import import_module

MODULES = [
    "reporting.incidents.volume",
    "reporting.incidents.times",
    "reporting.incidents.sla",
    "reporting.incidents.backlog",
    "reporting.major",
    "reporting.problems",
]


def register_all() -> None:
    for module in MODULES:
        import_module(module)
