"""Proactive problem management: clusters of recurring incidents open a problem before anyone files one.

A cluster is the incidents of one service and category opened in the last
`ProblemSettings.cluster_window_days`, at least `cluster_min_incidents` of them, that no open
problem covers: incidents already linked to an open problem do not count, and a cluster whose
service and category (or whose `cluster_key`) an open problem has is skipped. With
`cluster_title_similarity` only the largest group of incidents whose significant title words
overlap at least `cluster_similarity_threshold` (Jaccard) counts.

Each cluster found opens a problem (source `proactive`, `cluster_key` "<service id>:<category
id>") through `problems.lifecycle.open_problem` as the system account and links the cluster's
incidents; `problem.created` tells the Problem Managers (default rule). The partial unique
constraint `problem_one_open_per_cluster` makes a second problem for one cluster impossible: a
sweep racing another gets an IntegrityError inside a savepoint and skips the cluster. A proactive
problem cancelled without `duplicate_of` means "not a problem": its cluster opens nothing until
`proactive_cooldown_days` after its cancellation. Idempotent; at most `limit` problems a run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from incidents.choices import IncidentState
from incidents.models import Incident
from itsm.exceptions import Conflict
from itsm.models import Category, Service
from problems import lifecycle, links
from problems.choices import OPEN_STATES, ProblemSource, ProblemState
from problems.kedb.search import significant_words
from problems.models import Problem, ProblemSettings

logger = logging.getLogger(__name__)

MAX_PROBLEMS_PER_RUN = 20
# The most incidents one cluster reads (and links); a larger cluster links its newest.
MAX_CLUSTER_INCIDENTS = 500


def cluster_key(service_id: int, category_id: int) -> str:
    """The key a proactive problem carries for the cluster it covers."""
    return f"{service_id}:{category_id}"


@dataclass
class Cluster:
    """Incidents of one service and category that no open problem covers."""

    service_id: int
    category_id: int
    incident_ids: list[int]

    @property
    def key(self) -> str:
        return cluster_key(self.service_id, self.category_id)


@dataclass
class Sweep:
    """What one run did: problems opened (numbers) and clusters skipped, with why."""

    opened: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"opened": self.opened, "skipped": self.skipped}


def _uncovered(since: datetime):
    """Incidents opened since `since` with a service and a category, not held by an open problem."""
    return (
        Incident.objects.filter(opened_at__gte=since, service__isnull=False, category__isnull=False)
        .exclude(state=IncidentState.CANCELLED)
        .exclude(problem__state__in=OPEN_STATES)
    )


def _blocked_keys(now: datetime, settings: ProblemSettings) -> dict[str, str]:
    """Cluster keys an open problem covers or a "not a problem" cancellation cools down: key -> why."""
    blocked: dict[str, str] = {}
    for service_id, category_id, key, number in Problem.objects.filter(state__in=OPEN_STATES).values_list(
        "service_id", "category_id", "cluster_key", "number"
    ):
        if key:
            blocked[key] = f"covered by {number}"
        if service_id and category_id:
            blocked.setdefault(cluster_key(service_id, category_id), f"covered by {number}")
    cooled = (
        Problem.objects.filter(
            source=ProblemSource.PROACTIVE,
            state=ProblemState.CANCELLED,
            duplicate_of__isnull=True,
            cancelled_at__gte=now - timedelta(days=settings.proactive_cooldown_days),
        )
        .exclude(cluster_key="")
        .values("cluster_key")
        .annotate(last=Max("cancelled_at"))
    )
    for row in cooled:
        blocked.setdefault(
            row["cluster_key"],
            f"cooling down until {row['last'] + timedelta(days=settings.proactive_cooldown_days):%Y-%m-%d}",
        )
    return blocked


def similar_group(titles: dict[int, str], threshold: float) -> list[int]:
    """The largest group of incidents whose titles share at least `threshold` of their significant
    words (Jaccard) with one member, the seed; ties go to the earliest seed. Ids in order."""
    words = {pk: set(significant_words(title)) for pk, title in titles.items()}
    best: list[int] = []
    for seed in sorted(words):
        if not words[seed]:
            continue
        group = [
            pk
            for pk in sorted(words)
            if words[pk] and len(words[seed] & words[pk]) / len(words[seed] | words[pk]) >= threshold
        ]
        if len(group) > len(best):
            best = group
    return best


def find_clusters(now: datetime | None = None, settings: ProblemSettings | None = None) -> tuple[list[Cluster], dict]:
    """The uncovered clusters, largest first, and the candidate keys skipped (key -> why).

    One aggregate query counts incidents per service and category; only candidates read their
    incidents (and titles, with title similarity on).
    """
    now = now or timezone.now()
    settings = settings or ProblemSettings.current()
    since = now - timedelta(days=settings.cluster_window_days)
    minimum = max(settings.cluster_min_incidents, 1)
    counts = (
        _uncovered(since)
        .values("service_id", "category_id")
        .annotate(n=Count("id"), first=Min("id"))
        .filter(n__gte=minimum)
        .order_by("-n", "first")
    )
    candidates = list(counts)
    if not candidates:
        return [], {}
    blocked = _blocked_keys(now, settings)
    clusters: list[Cluster] = []
    skipped: dict[str, str] = {}
    for row in candidates:
        key = cluster_key(row["service_id"], row["category_id"])
        if key in blocked:
            skipped[key] = blocked[key]
            continue
        rows = _uncovered(since).filter(service_id=row["service_id"], category_id=row["category_id"])
        titles = dict(rows.order_by("-opened_at", "-id").values_list("id", "title")[:MAX_CLUSTER_INCIDENTS])
        ids = sorted(titles)
        if settings.cluster_title_similarity:
            ids = similar_group(titles, settings.cluster_similarity_threshold)
            if len(ids) < minimum:
                skipped[key] = f"{len(ids)} similar titles, fewer than {minimum}"
                continue
        clusters.append(Cluster(row["service_id"], row["category_id"], ids))
    return clusters, skipped


def _open_for(cluster: Cluster, settings: ProblemSettings, system) -> Problem:
    service = Service.objects.get(pk=cluster.service_id)
    category = Category.objects.get(pk=cluster.category_id)
    incidents = list(Incident.objects.filter(pk__in=cluster.incident_ids).order_by("opened_at", "id"))
    n, days = len(incidents), settings.cluster_window_days
    numbers = ", ".join(i.number for i in incidents[:50]) + (" ..." if n > 50 else "")
    problem = lifecycle.open_problem(
        actor=system,
        title=f"Recurring: {service.name} / {category.name} ({n} incidents in {days} days)"[:255],
        source=ProblemSource.PROACTIVE,
        cluster_key=cluster.key,
        service=service,
        category=category,
        impact=min(i.impact for i in incidents),
        urgency=min(i.urgency for i in incidents),
        description=(
            f"Trend detection found {n} incidents of {service.name} / {category.name} opened in the last "
            f"{days} days that no open problem covers: {numbers}."
        ),
    )
    links.link_incidents(problem, actor=system, incidents=[i.pk for i in incidents])
    return problem


def detect(now: datetime | None = None, *, limit: int = MAX_PROBLEMS_PER_RUN) -> Sweep:
    """Open a proactive problem for each uncovered cluster (at most `limit`); what it did.

    Each cluster in its own transaction: a cluster another sweep has just taken (the unique
    constraint) or whose incidents were linked meanwhile (409) is skipped, the rest go on.
    """
    from incidents.services import system_user  # here, not at the top: incidents.services imports much

    settings = ProblemSettings.current()
    clusters, skipped = find_clusters(now, settings)
    result = Sweep(skipped=skipped)
    system = system_user()
    for cluster in clusters:
        if len(result.opened) >= limit:
            result.skipped[cluster.key] = "left for the next run"
            continue
        try:
            with transaction.atomic():
                problem = _open_for(cluster, settings, system)
        except IntegrityError:
            # Another sweep opened the cluster's problem between our count and our insert.
            result.skipped[cluster.key] = "opened by a concurrent sweep"
            continue
        except Conflict as exc:
            result.skipped[cluster.key] = str(exc)
            continue
        logger.info(
            "proactive problem %s for cluster %s (%d incidents)", problem.number, cluster.key, len(cluster.incident_ids)
        )
        result.opened.append(problem.number)
    return result
