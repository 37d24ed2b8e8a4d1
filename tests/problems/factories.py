"""Problems for tests, made the only way problems are made: through `problems.lifecycle`.

`ProblemFactory(**fields)` opens a problem with `lifecycle.open_problem` (default actor: a
superuser); `ProblemFactory(state="resolved")` then walks it there through the transitions with
payloads that satisfy each, and `bring_to(problem, state)` does the same for an existing one.
"""

from __future__ import annotations

import factory

from problems import lifecycle
from problems.choices import ProblemState
from problems.models import Problem
from tests.factories import UserFactory
from tests.incidents.factories import factory_actor

S = ProblemState

PATHS: dict[str, list[str]] = {
    S.NEW: [],
    S.INVESTIGATING: ["investigate"],
    S.KNOWN_ERROR: ["investigate", "mark_known_error"],
    S.RESOLVED: ["investigate", "mark_known_error", "resolve"],
    S.CLOSED: ["investigate", "mark_known_error", "resolve", "close"],
    S.CANCELLED: ["cancel"],
}


def payload_for(name: str, problem: Problem, owner=None) -> dict:
    """A body that satisfies transition `name` (the owner: a superuser unless given)."""
    return {
        "investigate": lambda: {"owner": (owner or problem.owner or factory_actor()).pk},
        "mark_known_error": lambda: {
            "root_cause": problem.root_cause or "Connection pool exhausted under load.",
            "workaround": problem.workaround or "Restart the application pool.",
        },
        "resolve": lambda: {"fix": problem.fix or "Pool size raised and leak fixed.", "fix_reference": "CHG0001234"},
        "close": lambda: {"lessons_learned": problem.lessons_learned or "Alert on pool saturation."},
        "cancel": lambda: {"reason": "Not a problem."},
    }[name]()


def bring_to(problem: Problem, state: str, *, actor=None, owner=None) -> Problem:
    """Walk a *new* problem to `state` through the transitions."""
    actor = actor or factory_actor()
    for name in PATHS[S(state)]:
        problem = lifecycle.run_transition(problem, name, actor=actor, payload=payload_for(name, problem, owner))
    return problem


class ProblemFactory(factory.Factory):
    """`ProblemFactory(title=..., service=..., actor=user, state="known_error")` through the use cases."""

    class Meta:
        model = Problem

    title = factory.Sequence(lambda n: f"Problem {n}")
    description = "Users cannot reach the application."

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        raise NotImplementedError("Problems exist only through problems.lifecycle; use ProblemFactory().")

    @classmethod
    def _create(cls, model_class, *args, actor=None, state: str | None = None, owner=None, **kwargs) -> Problem:
        actor = actor or factory_actor()
        problem = lifecycle.open_problem(actor=actor, **kwargs)
        if state:
            problem = bring_to(problem, state, actor=actor, owner=owner)
        return problem


def problem_manager(**kwargs):
    """A Problem Manager (a role holder, not a superuser)."""
    from itsm import roles

    return UserFactory(roles=[roles.PROBLEM_MANAGER], **kwargs)
