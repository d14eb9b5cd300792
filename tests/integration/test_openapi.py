"""The OpenAPI document is valid and names every /api/v1 route the app serves (and no route it does not)."""

from __future__ import annotations

import re
from typing import Any

from openapi_spec_validator import validate


def test_openapi_document_is_valid_and_complete(app: Any, client: Any) -> None:
    document = client.get("/api/v1/openapi.json").json
    validate(document)
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert served == documented
