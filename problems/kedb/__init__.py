"""The known error database: search, suggestions for incidents, and uses of workarounds.

`search()` ranks published known errors for a text (PostgreSQL full-text search weighted on
title, then symptoms, then root cause and workaround; a word-match score on SQLite) and
`suggestions()` does it for an incident's own words, same service first. `apply_workaround()`
records a use on both timelines; `deflections` counts the incidents then resolved with it.
"""

from problems.kedb.search import search, significant_words, suggestions
from problems.kedb.uses import apply_workaround, record_self_service_fix

__all__ = ["apply_workaround", "record_self_service_fix", "search", "significant_words", "suggestions"]
