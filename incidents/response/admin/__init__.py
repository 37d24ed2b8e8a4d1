"""Console for tasks, response plans and trigger rules (each module registers its own admin)."""

from . import plans, triggers

__all__ = ["plans", "triggers"]
