"""The scenario registry: scenarios declare seeding and load steps; the runner only reads them.

A scenario lives in its own module under `bench/scenarios/` and calls `register(Scenario(...))`
at import time. `discover()` imports every module there, so adding a scenario never touches
the runner. Scenario modules are imported both by the seeding process (Django configured) and
by the load generator (no Django), so they import Django models *inside* `seed()` only.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

# What seed() returns is stored as JSON and handed to every request factory as `seed_data`
# (e.g. ids of seeded records, so a step can address them).
SeedData = dict[str, Any]


@dataclass(frozen=True)
class Request:
    """One HTTP request a step sends. `path` is relative to the server (starts with "/")."""

    path: str
    method: str | None = None  # None: the step's method
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class RequestContext:
    """What a request factory may look at to build request number `index`.

    `last_response` is the previous response *of the same load thread* (None for its first
    request), so a factory can follow `next` links to walk deep cursor pages.
    """

    index: int
    worker: int
    scale: int
    seed_data: SeedData
    last_response: httpx.Response | None = None


RequestFactory = Callable[[RequestContext], "Request | str"]


@dataclass(frozen=True)
class Step:
    """One load step: `requests` requests at `concurrency`, stopped after `time_limit` seconds.

    `path` is a fixed path, or a callable that builds each request (unique bodies, cursor walks).
    `expect` lists the status codes that count as success; by default any 2xx does.
    `scalable=False` keeps `requests` as given whatever `--requests` says.
    """

    name: str
    path: str | RequestFactory
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    auth: bool = True  # send `Authorization: Token <administrator key>`
    concurrency: int = 4
    requests: int = 200
    time_limit: float = 60.0
    expect: tuple[int, ...] | None = None
    # False: `--requests` does not change this step's count (a check that must cover a fixed set).
    scalable: bool = True

    def build(self, ctx: RequestContext) -> Request:
        """The request number `ctx.index` of this step, with the step's defaults filled in."""
        if callable(self.path):
            made = self.path(ctx)
            request = Request(path=made) if isinstance(made, str) else made
        else:
            request = Request(path=self.path, json=self.json)
        return Request(
            path=request.path,
            method=(request.method or self.method).upper(),
            json=request.json,
            headers={**self.headers, **request.headers},
        )

    def is_success(self, status: int) -> bool:
        """Whether a response status counts as success for this step."""
        return status in self.expect if self.expect is not None else 200 <= status < 300


@dataclass(frozen=True)
class Scenario:
    """A named benchmark: how to seed data at a given scale and which load steps to drive."""

    name: str
    default_scale: int
    seed: Callable[[int], SeedData | None]
    steps: list[Step]
    description: str = ""
    # Run `collectstatic` before serving: with DEBUG=false (as the bench serves) a page that
    # links static files, such as the admin, fails without the manifest production builds.
    static_files: bool = False
    # The Django settings module the server runs with for this scenario (None: the product's,
    # `itsm.settings`); e.g. the framework ceiling's, which adds a bench-only app and URLconf.
    settings: str | None = None

    def step(self, name: str) -> Step:
        """The step called `name` (KeyError if there is none)."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"scenario {self.name!r} has no step {name!r}")


_SCENARIOS: dict[str, Scenario] = {}


def register(scenario: Scenario) -> Scenario:
    """Add a scenario to the registry (called at import time by a module in bench/scenarios/)."""
    existing = _SCENARIOS.get(scenario.name)
    if existing is not None and existing is not scenario:
        raise ValueError(f"two scenarios are called {scenario.name!r}")
    names = [s.name for s in scenario.steps]
    if len(names) != len(set(names)):
        raise ValueError(f"scenario {scenario.name!r} has two steps with the same name")
    _SCENARIOS[scenario.name] = scenario
    return scenario


def unregister(name: str) -> None:
    """Remove a scenario (tests register throw-away ones)."""
    _SCENARIOS.pop(name, None)


def discover() -> dict[str, Scenario]:
    """Import every module in bench/scenarios/ and return the registry (name -> scenario)."""
    from bench import scenarios

    for module in pkgutil.iter_modules(scenarios.__path__):
        importlib.import_module(f"{scenarios.__name__}.{module.name}")
    return dict(_SCENARIOS)


def get(name: str) -> Scenario:
    """The registered scenario called `name`, after discovery."""
    found = discover()
    if name not in found:
        raise KeyError(f"no scenario {name!r}; known: {', '.join(sorted(found)) or 'none'}")
    return found[name]
