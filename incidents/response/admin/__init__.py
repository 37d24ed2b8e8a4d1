"""Console for tasks, response plans and trigger rules (each module registers its own admin)."""
