"""OpenAPI post-processing: the statuses every operation can answer, and links between operations.

Every operation documents the single error shape for each status it can answer (a generated
client and schemathesis' `status_code_conformance` rely on it): 401 and 403 for every operation,
404 for anything with a path parameter or a cursor/page, 405 and 406 (method or Accept refused),
413 (body over the limit) and 414 (a query longer than gunicorn takes: answered by gunicorn, not
JSON), 415 for operations with a body, 409 for writes, 412 where an If-Match header is taken, and
429 for every throttled operation. Creates link to their detail, sub-resources and transitions
(OpenAPI links), so clients and stateful fuzzing can follow `id` from a 201.
"""

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

DESCRIPTIONS = {
    "400": "Invalid input; every bad field or query parameter is named in `errors`.",
    "401": "Missing or invalid token.",
    "403": "Not allowed for this user; `detail` says why.",
    "404": "No such record (or an invalid cursor or page).",
    "405": "Method not allowed on this path.",
    "406": "The Accept header asks for a representation the API does not produce.",
    "409": "Not allowed in the record's current state, or a duplicate (Idempotency-Key reused).",
    "412": "If-Match does not match the current ETag.",
    "413": "Body over the size limit (API_MAX_BODY_BYTES).",
    "415": "Unsupported media type.",
    "429": "Throttled; see Retry-After.",
}
TOO_LONG = {"description": "Request line too long (answered by gunicorn before the API sees it; not JSON)."}
UNAUTHENTICATED = ("/healthz", "/readyz")


def _wanted(path: str, method: str, operation: dict) -> list[str]:
    headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
    query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    codes = ["400", "401", "403", "405", "406", "413", "429"]
    # An operation may name further codes it answers: @extend_schema(extensions={"x-errors": ["404"]}).
    codes += [c for c in operation.pop("x-errors", []) if c not in codes]
    if ("{" in path or query & {"cursor", "page"}) and "404" not in codes:
        codes.append("404")
    if method in ("post", "put", "patch", "delete"):
        codes.append("409")
        if "requestBody" in operation:
            codes.append("415")
    if "If-Match" in headers:
        codes.append("412")
    return codes


def _links(result: dict) -> None:
    """OpenAPI links from each create's 201 (POST `<list>/`) to the operations under `<list>{id}/`.

    A transition's `name` is not in the body: each transition gets a link of its own with the
    name as a constant (the enum of the `name` path parameter).
    """
    paths = result.get("paths", {})
    for create_path, methods in paths.items():
        created = methods.get("post", {}).get("responses", {}).get("201")
        if created is None or "{" in create_path:
            continue
        detail = f"{create_path}{{id}}/"
        links = {}
        for path, operations in paths.items():
            if not path.startswith(detail):
                continue
            for method, operation in operations.items():
                if method not in {"get", "post", "put", "patch", "delete"}:
                    continue
                names = [p for p in operation.get("parameters", []) if p["in"] == "path" and p["name"] != "id"]
                if not names:
                    links[operation["operationId"]] = {
                        "operationId": operation["operationId"],
                        "parameters": {"id": "$response.body#/id"},
                    }
                elif len(names) == 1 and names[0]["name"] == "name" and "enum" in names[0].get("schema", {}):
                    for value in names[0]["schema"]["enum"]:
                        links[f"{operation['operationId']}_{value}"] = {
                            "operationId": operation["operationId"],
                            "parameters": {"id": "$response.body#/id", "name": value},
                        }
        if links:
            created["links"] = links


def add_error_responses(result, generator, request, public):
    """The drf-spectacular post-processing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, methods in result.get("paths", {}).items():
        if path in UNAUTHENTICATED:
            continue
        for method, operation in methods.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for code in _wanted(path, method, operation):
                responses.setdefault(
                    code, {"description": DESCRIPTIONS[code], "content": {"application/json": {"schema": ref}}}
                )
            responses.setdefault("414", dict(TOO_LONG))
    _links(result)
    return result
