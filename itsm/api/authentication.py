"""Token authentication with a per-process cache of token -> user (and the user's roles).

DRF's TokenAuthentication runs a token+user query on every request and the role checks another;
on the alert intake, which monitoring tools call thousands of times a minute, those two ORM
queries cost more than counting the alert. `CachedTokenAuthentication` answers from
`itsm.procache` instead: entries are dropped in every process once a token is created or
deleted, a user is saved or deleted, a user's groups change, or a group is renamed or deleted
(signals in `itsm.signals`), and expire after a minute in any case. Each request gets its own
copy of the cached user, so nothing one request sets on `request.user` leaks into another.
"""

from __future__ import annotations

import copy

from django.contrib.auth import get_user_model
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from itsm import roles
from itsm.procache import VersionedCache

# Tokens, users and their role groups. A minute at most even without a version bump (a bulk
# QuerySet.update() of users sends no signal).
AUTH_CACHE = VersionedCache("auth", max_age=60.0)


def _load(key: str) -> tuple[Token, object] | None:
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None:
        return None
    user = token.user
    # Roles are loaded with the user (one more query per process and version, not per request).
    user._itsm_roles = frozenset(roles.role_names(user))
    return token, user


class CachedTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, answered from the per-process cache (see the module docstring)."""

    def authenticate_credentials(self, key):
        # Only tokens that exist are kept: anyone may present any string.
        cached = AUTH_CACHE.get(key, lambda: _load(key), cache_none=False) if isinstance(key, str) else None
        if cached is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        token, user = cached
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return _clone(user), token


def _clone(instance):
    """A copy of a model instance for one request (what Model.__getstate__ copies, without pickling)."""
    clone = instance.__class__.__new__(instance.__class__)
    clone.__dict__ = instance.__dict__.copy()
    state = copy.copy(instance._state)
    state.fields_cache = dict(instance._state.fields_cache)
    clone._state = state
    return clone


def auth_changed(*args, **kwargs) -> None:
    """A signal receiver: tokens, users or role groups changed (bump after commit)."""
    AUTH_CACHE.changed()


def connect_signals() -> None:
    """Invalidate the cache when what it holds changes; called from ItsmConfig.ready()."""
    from django.contrib.auth.models import Group
    from django.db.models.signals import m2m_changed, post_delete, post_save

    user_model = get_user_model()
    for model in (Token, user_model, Group):
        post_save.connect(auth_changed, sender=model, dispatch_uid=f"auth-cache-save-{model._meta.label}")
        post_delete.connect(auth_changed, sender=model, dispatch_uid=f"auth-cache-delete-{model._meta.label}")
    m2m_changed.connect(auth_changed, sender=user_model.groups.through, dispatch_uid="auth-cache-user-groups")
