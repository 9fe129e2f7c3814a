"""Check a real response against what /api/openapi.json documents for its route, status and media type."""
from __future__ import annotations

from functools import lru_cache

from jsonschema import Draft202012Validator, FormatChecker

from podium.web.openapi import document


@lru_cache(maxsize=1)
def _document() -> dict:
    return document()


def documented_schema(path: str, method: str, status: int) -> dict | None:
    """The JSON schema documented for this answer, or None when it documents a body that is not JSON."""
    responses = _document()["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} does not document status {status}"
    content = responses[str(status)].get("content", {})
    if "application/json" not in content:
        return None
    return content["application/json"]["schema"]


def assert_matches_openapi(response, path: str, method: str) -> None:
    schema = documented_schema(path, method, response.status_code)
    if schema is None:
        assert not response.is_json, f"{method.upper()} {path} answered JSON where the document says otherwise"
        return
    assert response.is_json, f"{method.upper()} {path} answered {response.content_type}, not JSON"
    # Refs point into the document's components; carry them along at the root.
    validator = Draft202012Validator({**schema, "components": _document()["components"]},
                                     format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(response.get_json()), key=lambda e: list(e.path))
    assert not errors, f"{method.upper()} {path} {response.status_code}: " + "; ".join(
        f"{list(e.path)}: {e.message}" for e in errors[:5])
