"""Mapping templates: named mapping specs per object, kept in Cloudant."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from dms.clients import Services
from dms.clients.docstore import DocumentStore
from dms.errors import DMSError, NotFound, Text
from dms.pipeline.model import now

MAX_NAME_CHARS = 100
PATH_CHARACTERS = frozenset("/\\")
_LEGACY_SLUG = re.compile(r"[^a-z0-9]+")


def template_name(name: object) -> str:
    """The name as a person gave it (NFC): letters and digits of any script with spaces and punctuation, never
    path or control characters; INVALID_TEMPLATE names the character it cannot hold."""
    if not isinstance(name, str):
        raise DMSError(Text("A template name must be text."), code="INVALID_TEMPLATE")
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned or len(cleaned) > MAX_NAME_CHARS:
        raise DMSError(
            Text(
                "A template needs a name of 1 to %(max_name_chars)s characters.",
                max_name_chars=MAX_NAME_CHARS,
            ),
            code="INVALID_TEMPLATE",
        )
    for char in cleaned:
        if char in PATH_CHARACTERS or unicodedata.category(char)[0] == "C":
            shown = repr(char) if char in PATH_CHARACTERS else f"U+{ord(char):04X}"
            raise DMSError(
                Text(
                    "A template name cannot hold %(shown)s (no slashes or control characters); letters and "
                    "digits of any language, spaces and punctuation are fine.",
                    shown=shown,
                ),
                code="INVALID_TEMPLATE",
            )
    return cleaned


def template_id(object_name: str, name: str) -> str:
    """A stable id per (object, name): saving the same name again replaces the template.

    ASCII names keep the ids they always had (`tpl-Account-legacy-accounts`); others are Punycode-encoded
    behind `xn--` (which no ASCII slug holds, as every run of other characters folds to one "-"), so every id
    is plain ASCII, safe in a CouchDB URL and in a prefix listing.
    """
    folded = unicodedata.normalize("NFKC", template_name(name)).casefold()
    slug = "-".join(word for word in re.split(r"[\W_]+", folded) if word)
    if not slug or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", object_name):
        raise DMSError(
            Text("A template needs a name with letters or digits and a valid object API name."),
            code="INVALID_TEMPLATE",
        )
    if not slug.isascii():
        slug = "xn--" + slug.encode("punycode").decode("ascii")
    return f"tpl-{object_name}-{slug}"


def legacy_template_id(object_name: str, name: str) -> str:
    """The id a template got before names could be in any script (non-ASCII letters folded to "-")."""
    return f"tpl-{object_name}-{_LEGACY_SLUG.sub('-', name.lower()).strip('-')}"


class TemplateStore:
    """Save, list, get and delete mapping templates."""

    def __init__(self, services: Services, owner: dict[str, Any] | None = None, admin: bool = False) -> None:
        self.store: DocumentStore = services.store("templates")
        self.owner = dict(owner or {})  # {"owner": user id, "owner_name": ...}: each user has their own names
        self.admin = admin  # admins list everyone's templates, and read the ones saved before owners existed

    def save(self, object_name: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(spec, dict) or not isinstance(spec.get("fields"), list):
            raise DMSError(
                Text("`mapping` must be a mapping spec with a `fields` list."),
                code="INVALID_TEMPLATE",
                field="mapping",
            )
        doc_id = self._stored_id(object_name, name)
        body = {
            **self.owner,
            "type": "template",
            "object": object_name,
            "name": template_name(name),
            "mapping": spec,
            "updated_at": now(),
        }
        try:
            saved = self.store.update(doc_id, lambda d: {**d, **body})
        except NotFound:
            saved = self.store.create({"_id": doc_id, **body, "created_at": now()})
        return public_template(saved)

    def list(self, object_name: str | None = None) -> list[dict[str, Any]]:
        prefix = f"tpl-{object_name}-" if object_name else "tpl-"
        mine = self.owner.get("owner")
        return [
            public_template(d)
            for d in self.store.iter_all(prefix)
            if self.admin or not self.owner or d.get("owner") == mine
        ]

    def get(self, object_name: str, name: str) -> dict[str, Any]:
        try:
            return public_template(self.store.get(self._stored_id(object_name, name)))
        except NotFound:
            raise NotFound(
                Text(
                    "There is no template %(name)s for %(object_name)s.",
                    name=f"{name!r}",
                    object_name=object_name,
                ),
                code="TEMPLATE_NOT_FOUND",
            ) from None

    def delete(self, object_name: str, name: str) -> None:
        self.store.delete(self._stored_id(object_name, name))

    def _stored_id(self, object_name: str, name: str) -> str:
        """The id of the caller's template of that name (for an admin, also one saved before templates had
        owners, or before names could be in any script); the id to save under when there is none."""
        doc_id = template_id(object_name, name)
        owned = None
        if self.owner.get("owner"):
            # One user's name never collides with another's: the owner is part of the id.
            owned = f"{doc_id}--{str(self.owner['owner']).removeprefix('user-')[:16]}"
        candidates = [owned] if owned else []
        if owned is None or self.admin:
            candidates += [doc_id, legacy_template_id(object_name, name)]
        for candidate in candidates:
            if candidate is None or candidate.endswith("-"):
                continue
            try:
                self.store.get(candidate)
            except NotFound:
                continue
            return candidate
        return owned or doc_id


def public_template(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc.get(k) for k in ("object", "name", "mapping", "created_at", "updated_at")} | {
        "id": doc["_id"]
    }
