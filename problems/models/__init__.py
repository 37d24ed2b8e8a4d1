"""Models of problem management (one module per aggregate, re-exported here)."""

from problems.models.kedb import KnownError, KnownErrorUse
from problems.models.problem import Problem, ProblemEvent, ProblemSettings

__all__ = ["KnownError", "KnownErrorUse", "Problem", "ProblemEvent", "ProblemSettings"]
