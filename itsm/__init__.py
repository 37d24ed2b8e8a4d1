"""The project package and the shared core app (configuration, API basics, business time)."""

from .celery import app as celery_app

__all__ = ["celery_app"]
