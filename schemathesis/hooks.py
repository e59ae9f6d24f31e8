"""Checks of this API's own contract, beside schemathesis' built-in ones (docs/api.md).

Loaded by scripts/schemathesis.mjs through SCHEMATHESIS_HOOKS. Adding a check for a
new feature (an ETag on every single-task answer, Retry-After on a 429): one more
function with @schemathesis.check.
"""

import json

import schemathesis

# Checks of requirements a change has not met yet: skipped while listed. Delete a name when its feature lands (docs/resilience.md).
PENDING = set()


def _header(response, name):
    values = response.headers.get(name.lower()) or []
    return values[0] if values else None


@schemathesis.check
def problem_json_errors(ctx, response, case):
    """Every error is RFC 9457 problem+json with the members docs/api.md names."""
    if response.status_code < 400:
        return
    content_type = _header(response, "content-type")
    if content_type != "application/problem+json":
        raise AssertionError(f"{response.status_code} with Content-Type {content_type!r}, not application/problem+json")
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"{response.status_code} problem body is not JSON: {exc}") from None
    for member in ("type", "title", "status", "detail"):
        if member not in body:
            raise AssertionError(f"{response.status_code} problem body lacks {member!r}")
    if body["status"] != response.status_code:
        raise AssertionError(f"problem status {body['status']} differs from HTTP {response.status_code}")
    if response.status_code == 422 and not body.get("errors"):
        raise AssertionError("422 without an errors array")
    if response.status_code == 405 and not _header(response, "allow"):
        raise AssertionError("405 without Allow")


@schemathesis.check
def api_headers(ctx, response, case):
    """nosniff everywhere; no-store on /api/ answers except a cacheable single task."""
    if "api_headers" in PENDING:
        return
    if _header(response, "x-content-type-options") != "nosniff":
        raise AssertionError("X-Content-Type-Options: nosniff is missing")
    path = case.formatted_path if hasattr(case, "formatted_path") else case.path
    if path.startswith("/api/"):
        cache = _header(response, "cache-control") or ""
        if cache not in ("no-store", "private, no-cache"):
            raise AssertionError(f"/api/ answer with Cache-Control {cache!r}")
        if cache == "private, no-cache" and not _header(response, "etag"):
            raise AssertionError("private, no-cache without an ETag")


@schemathesis.check
def conditional_answers(ctx, response, case):
    """ETags where the API promises them: a 412 names the current version, a 304 has
    its ETag and no body, a created or replayed task has its ETag and Location."""
    status = response.status_code
    if status in (304, 412) and not _header(response, "etag"):
        raise AssertionError(f"{status} without an ETag")
    if status == 304 and response.content:
        raise AssertionError("304 with a body")
    if status == 201 and not (_header(response, "etag") and _header(response, "location")):
        raise AssertionError("201 without ETag and Location")
    if status in (429, 503) and not _header(response, "retry-after"):
        raise AssertionError(f"{status} without Retry-After")
