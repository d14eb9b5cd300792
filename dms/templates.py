"""Mapping templates: named mapping specs per object, kept in Cloudant."""

from __future__ import annotations

import re
from typing import Any

from dms.clients import Services
from dms.clients.docstore import DocumentStore
from dms.errors import DMSError, NotFound
from dms.pipeline.model import now

_SLUG = re.compile(r"[^a-z0-9]+")


def template_id(object_name: str, name: str) -> str:
    """A stable id per (object, name): saving the same name again replaces the template."""
    slug = _SLUG.sub("-", name.lower()).strip("-")
    if not slug or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", object_name):
        raise DMSError(
            "A template needs a name with letters or digits and a valid object API name.",
            code="INVALID_TEMPLATE",
        )
    return f"tpl-{object_name}-{slug}"


class TemplateStore:
    """Save, list, get and delete mapping templates."""

    def __init__(self, services: Services) -> None:
        self.store: DocumentStore = services.store("templates")

    def save(self, object_name: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(spec, dict) or not isinstance(spec.get("fields"), list):
            raise DMSError(
                "`mapping` must be a mapping spec with a `fields` list.",
                code="INVALID_TEMPLATE",
                field="mapping",
            )
        doc_id = template_id(object_name, name)
        body = {"type": "template", "object": object_name, "name": name, "mapping": spec, "updated_at": now()}
        try:
            saved = self.store.update(doc_id, lambda d: {**d, **body})
        except NotFound:
            saved = self.store.create({"_id": doc_id, **body, "created_at": now()})
        return public_template(saved)

    def list(self, object_name: str | None = None) -> list[dict[str, Any]]:
        prefix = f"tpl-{object_name}-" if object_name else "tpl-"
        return [public_template(d) for d in self.store.iter_all(prefix)]

    def get(self, object_name: str, name: str) -> dict[str, Any]:
        try:
            return public_template(self.store.get(template_id(object_name, name)))
        except NotFound:
            raise NotFound(
                f"There is no template {name!r} for {object_name}.", code="TEMPLATE_NOT_FOUND"
            ) from None

    def delete(self, object_name: str, name: str) -> None:
        self.store.delete(template_id(object_name, name))


def public_template(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc.get(k) for k in ("object", "name", "mapping", "created_at", "updated_at")} | {
        "id": doc["_id"]
    }
