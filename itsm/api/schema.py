"""OpenAPI post-processing: every operation documents the single error shape."""

ERROR_SCHEMA = {
    "type": "object",
    "description": "The one error shape of the API.",
    "properties": {
        "type": {"type": "string", "description": "Machine-readable error code."},
        "detail": {"type": "string", "description": "A sentence for humans."},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "Messages per offending field; {} when no field is at fault.",
        },
    },
    "required": ["type", "detail", "errors"],
}

COMMON = {
    "400": "Invalid input; every bad field is named in `errors`.",
    "401": "Missing or invalid token.",
    "403": "Not allowed for this user; `detail` says why.",
    "404": "No such record.",
    "413": "Body over the size limit.",
    "415": "Unsupported media type.",
    "429": "Throttled; see Retry-After.",
}
WRITE_ONLY = {
    "409": "Not allowed in the record's current state, or a duplicate.",
    "412": "If-Match does not match the current ETag.",
}


def add_error_responses(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            wanted = dict(COMMON)
            if method != "get":
                wanted.update(WRITE_ONLY)
            if path in ("/healthz", "/readyz"):
                continue
            for code, text in wanted.items():
                responses.setdefault(code, {"description": text, "content": {"application/json": {"schema": ref}}})
    return result
