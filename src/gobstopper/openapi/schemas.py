"""JSON Schemas for every type the document mentions, from msgspec.

The builder asks for a schema wherever it meets a type and receives an empty
dict to put in the document; ``resolve`` then makes one
``msgspec.json.schema_components`` call over all of them, fills each dict in
place and returns the shared ``components/schemas``. One call means one
naming: a model used by two routes is one component, and two models with
the same name are told apart by msgspec (``module.Name``).
"""

from __future__ import annotations

from typing import Any

import msgspec

REF_TEMPLATE = "#/components/schemas/{name}"


class SchemaSet:
    """Types waiting for their JSON Schema, and where each one goes."""

    def __init__(self) -> None:
        self._types: list[Any] = []
        self._slots: list[dict[str, Any]] = []

    def schema(self, annotation: Any) -> dict[str, Any]:
        """A dict that ``resolve`` fills with the schema of ``annotation``."""
        slot: dict[str, Any] = {}
        self._types.append(annotation)
        self._slots.append(slot)
        return slot

    def resolve(self) -> dict[str, Any]:
        """Fill every slot; return the named schemas (``components/schemas``).

        Raises ``TypeError`` naming the type msgspec cannot describe.
        """
        try:
            schemas, components = msgspec.json.schema_components(
                self._types, ref_template=REF_TEMPLATE
            )
        except TypeError:
            raise self._culprit() from None
        for slot, found in zip(self._slots, schemas, strict=True):
            slot.update(found)
        return dict(components)

    def _culprit(self) -> TypeError:
        """The error for the first type msgspec cannot describe."""
        for annotation in self._types:
            try:
                msgspec.json.schema(annotation)
            except TypeError as exc:
                return TypeError(f"cannot describe {annotation!r} in OpenAPI: {exc}")
        return TypeError("msgspec cannot describe these types together")
