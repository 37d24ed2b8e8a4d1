"""Ranking published known errors by relevance (`score`), in the database.

PostgreSQL: a weighted `tsvector` (title A, symptoms B, root cause and workaround C, English
configuration) matched against the words; `score` is `ts_rank`. The expression is exactly
`document()`, so the GIN expression index of migration `problems.0002` serves the match. SQLite
(the embedded default): each word found in the title scores 1, in the symptoms 0.5, in the root
cause or workaround 0.25, summed in SQL; the same ordering rules apply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector, SearchVectorField
from django.db import connection
from django.db.models import Case, Exists, FloatField, OuterRef, Q, QuerySet, Value, When
from django.db.models.expressions import Expression

from problems.choices import KnownErrorState
from problems.models import KnownError

CONFIG = "english"
MAX_WORDS = 12
WORD_RE = re.compile(r"[^\W_]{3,}", re.UNICODE)
# Words that say nothing about what broke (English stop words plus service desk filler).
STOP_WORDS = frozenset(
    """
    the and for are but not you all any can had her was one our out has have him his how its may new now
    old see two who did get got let put say she too use with that this from they will would there their
    what about which when your into than then them these some could other been were more very just also
    after again does doing only over under while here where why because should being each few most such
    own same both off once further until cannot isnt dont doesnt didnt wont cant please thanks thank
    hello issue issues problem problems error errors incident incidents user users work working works
    not able unable get getting since today yesterday still help need needs
    """.split()
)


def significant_words(*texts: str, limit: int = MAX_WORDS) -> list[str]:
    """The distinct significant words of `texts`, lower-cased, in order of first appearance."""
    words: dict[str, None] = {}
    for text in texts:
        for word in WORD_RE.findall((text or "").lower()):
            if word not in STOP_WORDS and not word.isdigit():
                words.setdefault(word, None)
                if len(words) >= limit:
                    return list(words)
    return list(words)


def document() -> SearchVector:
    """The weighted search document of a known error (PostgreSQL)."""
    return (
        SearchVector("title", weight="A", config=CONFIG)
        + SearchVector("symptoms", weight="B", config=CONFIG)
        + SearchVector("root_cause", weight="C", config=CONFIG)
        + SearchVector("workaround", weight="C", config=CONFIG)
    )


class StoredDocument(Expression):
    """`search_document`, the stored copy of `document()` (problems 0002: a generated column the
    model does not declare), on the query's own alias of the known error table (also in subqueries)."""

    output_field = SearchVectorField()

    def as_sql(self, compiler, connection):
        alias = compiler.query.get_initial_alias()
        return f"{compiler.quote_name_unless_alias(alias)}.{connection.ops.quote_name('search_document')}", []


def _published(service_ids: Iterable[int] | None, category_ids: Iterable[int] | None) -> QuerySet[KnownError]:
    qs = KnownError.objects.filter(state=KnownErrorState.PUBLISHED)
    if service_ids:
        qs = qs.filter(services__in=list(service_ids))
    if category_ids:
        qs = qs.filter(categories__in=list(category_ids))
    if service_ids or category_ids:
        qs = qs.distinct()
    return qs


def _ranked_postgres(qs: QuerySet[KnownError], words: list[str], any_word: bool) -> QuerySet[KnownError]:
    if any_word:
        query = SearchQuery(words[0], config=CONFIG)
        for word in words[1:]:
            query |= SearchQuery(word, config=CONFIG)
    else:
        query = SearchQuery(" ".join(words), config=CONFIG, search_type="websearch")
    # alias(), not annotate(): the document is matched (by the GIN index of migration 0002),
    # never sent to the client. The rank reads the stored copy of the same document (0002's
    # generated column): recomputing it for every match is what a broad suggestion costs most.
    return qs.alias(document=document()).filter(document=query).annotate(score=SearchRank(StoredDocument(), query))


def _ranked_plain(qs: QuerySet[KnownError], words: list[str], any_word: bool) -> QuerySet[KnownError]:
    terms = []
    matches = []
    for word in words:
        terms += [
            Case(When(title__icontains=word, then=Value(1.0)), default=Value(0.0), output_field=FloatField()),
            Case(When(symptoms__icontains=word, then=Value(0.5)), default=Value(0.0), output_field=FloatField()),
            Case(
                When(Q(root_cause__icontains=word) | Q(workaround__icontains=word), then=Value(0.25)),
                default=Value(0.0),
                output_field=FloatField(),
            ),
        ]
        found = Q(title__icontains=word) | Q(symptoms__icontains=word) | Q(root_cause__icontains=word)
        matches.append(found | Q(workaround__icontains=word))
    score = terms[0]
    for term in terms[1:]:
        score = score + term
    condition = matches[0]
    for match in matches[1:]:
        condition = (condition | match) if any_word else (condition & match)
    return qs.filter(condition).annotate(score=score / Value(float(len(words))))


def search(
    q: str = "",
    *,
    service_ids: Iterable[int] | None = None,
    category_ids: Iterable[int] | None = None,
    any_word: bool = False,
) -> QuerySet[KnownError]:
    """Published known errors matching `q`, best first, each with `score` (0 without `q`).

    `any_word`: a known error matching any one word qualifies (suggestions); otherwise all words
    must match (an agent's search). Without significant words the newest come first.
    """
    qs = _published(service_ids, category_ids)
    words = significant_words(q) if q else []
    if not words:
        return qs.annotate(score=Value(0.0, output_field=FloatField())).order_by("-published_at", "-id")
    ranked = (_ranked_postgres if connection.vendor == "postgresql" else _ranked_plain)(qs, words, any_word)
    return ranked.order_by("-score", "-published_at", "-id")


def suggestions(incident, limit: int = 5) -> list[KnownError]:
    """The known errors to suggest on an incident: those sharing significant words with its
    title or description, those of its service first, then by score.

    Computed when asked (the incident's page, its API), so creating an incident costs nothing.
    """
    words = significant_words(incident.title, (incident.description or "")[:2000])
    if not words:
        return []
    ranked = search(" ".join(words), any_word=True)
    if incident.service_id:
        same = KnownError.services.through.objects.filter(knownerror_id=OuterRef("pk"), service_id=incident.service_id)
        ranked = ranked.annotate(same_service=Exists(same)).order_by("-same_service", "-score", "-published_at", "-id")
    return list(ranked.select_related("problem").prefetch_related("services")[:limit])


__all__ = ["document", "search", "significant_words", "suggestions"]
