"""The known error article of a problem: published by `mark_known_error`, kept in sync with the
problem by its use cases, retired when the problem closes (with its permanent fix) or is cancelled.

Only the problem's use cases call these, inside their transaction; the article is never edited
on its own, so the KEDB always says what the problem says.
"""

from __future__ import annotations

from django.utils import timezone

from problems import events
from problems.choices import KnownErrorState
from problems.models import KnownError, Problem

# Problem fields the article mirrors; a change to one of them re-syncs the article.
MIRRORED_FIELDS = ("title", "description", "root_cause", "workaround", "service", "category")


def _fill(article: KnownError, problem: Problem) -> None:
    article.title = problem.title
    article.symptoms = problem.description
    article.root_cause = problem.root_cause
    article.workaround = problem.workaround


def _sync_links(article: KnownError, problem: Problem) -> None:
    # The article covers the problem's service and category plus those of its linked incidents,
    # so a search on any service the incidents came from finds it.
    service_ids = set(problem.incidents.exclude(service=None).values_list("service_id", flat=True))
    category_ids = set(problem.incidents.exclude(category=None).values_list("category_id", flat=True))
    if problem.service_id:
        service_ids.add(problem.service_id)
    if problem.category_id:
        category_ids.add(problem.category_id)
    article.services.set(sorted(service_ids))
    article.categories.set(sorted(category_ids))


def publish(problem: Problem, actor) -> KnownError:
    """Publish (or re-publish) the problem's known error article."""
    article = KnownError.objects.filter(problem=problem).first()
    event = "published" if article is None else "republished"
    article = article or KnownError(problem=problem)
    _fill(article, problem)
    article.state = KnownErrorState.PUBLISHED
    article.published_at = timezone.now()
    article.retired_at = None
    article.save()
    _sync_links(article, problem)
    events.known_error(problem, actor, event, article.pk)
    return article


def sync(problem: Problem, actor) -> KnownError | None:
    """Bring a published article in line with its problem after an edit (None when there is none)."""
    article = KnownError.objects.filter(problem=problem, state=KnownErrorState.PUBLISHED).first()
    if article is None:
        return None
    _fill(article, problem)
    article.save()
    _sync_links(article, problem)
    events.known_error(problem, actor, "updated", article.pk)
    return article


def retire(problem: Problem, actor) -> KnownError | None:
    """Retire the published article (the problem is closed or cancelled)."""
    article = KnownError.objects.filter(problem=problem, state=KnownErrorState.PUBLISHED).first()
    if article is None:
        return None
    article.state = KnownErrorState.RETIRED
    article.retired_at = timezone.now()
    article.save(update_fields=["state", "retired_at", "updated_at"])
    events.known_error(problem, actor, "retired", article.pk)
    return article
