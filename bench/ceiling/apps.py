"""The app config of the framework ceiling's table."""

from django.apps import AppConfig


class CeilingConfig(AppConfig):
    """`bench_ceiling`: one table, `bench_ceiling_note`."""

    name = "bench.ceiling"
    label = "bench_ceiling"
    default_auto_field = "django.db.models.BigAutoField"
