"""Celery tasks of the problems app (thin: the work is in the services)."""

from celery import shared_task

from problems import trends


@shared_task(ignore_result=True)
def detect_problem_trends() -> dict:
    """Open a proactive problem for each cluster of recurring incidents no open problem covers.

    Idempotent and safe to run twice at once: the partial unique constraint on open problems'
    `cluster_key` lets one sweep win a cluster; the other skips it.
    """
    return trends.detect().as_dict()
