"""Console for tasks, response plans and trigger rules (each module registers its own admin)."""

from . import plans, triggers
from .tasks import TaskAdmin

__all__ = ["TaskAdmin", "plans", "triggers"]
