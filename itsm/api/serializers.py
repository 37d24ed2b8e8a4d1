"""Shared serializer parts: strict input (unknown or read-only fields are errors, not ignored)."""

from rest_framework import serializers

NUL = "\x00"


def holds_nul(value) -> bool:
    """Whether a parsed JSON value holds a NUL character in any string or key (PostgreSQL refuses them)."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(holds_nul(item) for item in value)
    return False


def refuse_nul(data: dict) -> None:
    """400 naming each top-level field whose name or value holds a NUL character."""
    bad = {
        str(name).replace(NUL, "\\0"): ["Null characters are not allowed."]
        for name, value in data.items()
        if holds_nul(name) or holds_nul(value)
    }
    if bad:
        raise serializers.ValidationError(bad)


class StrictFieldsMixin:
    """Reject fields the resource does not accept, naming each, instead of silently dropping them.

    `read_only_names` lists fields a client may have read from the resource but cannot write
    (e.g. `state`, changed only by transitions): they get "read-only" rather than "unknown".
    """

    read_only_names: frozenset[str] = frozenset()

    def to_internal_value(self, data):
        errors = {}
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            refuse_nul(data)  # before any field (or its database look-up) sees one
            for name in data:
                if name in writable:
                    continue
                if name in self.fields or name in self.read_only_names:
                    errors[name] = ["This field is read-only."]
                else:
                    errors[name] = ["Unknown field."]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if errors and isinstance(exc.detail, dict):
                exc.detail.update(errors)
            raise
        if errors:
            raise serializers.ValidationError(errors)
        return value


class StrictModelSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """ModelSerializer with strict input and model `clean()` run on the resulting instance."""


class StrictSerializer(StrictFieldsMixin, serializers.Serializer):
    """Plain Serializer with strict input (action bodies)."""
