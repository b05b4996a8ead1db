"""Data every benchmark app shares, so no app precomputes what another must build.

Standard library only: this module is imported by the driver and by every app, each in
its own virtual environment. What is shared is input (route paths, template rows, the echo
payload), never output: every app still encodes its JSON and renders its template per
request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TEMPLATE_DIR = str(Path(__file__).resolve().parent / "templates")
TEMPLATE_NAME = "table.html"

HELLO = "Hello, World!"
EXTRA_ROUTES = 50
"""How many extra static and extra parameterized routes each app registers first."""


def extra_static_paths() -> list[str]:
    """Return the paths of the extra static routes, registered before the measured ones."""
    return [f"/api/v1/resource{i}" for i in range(EXTRA_ROUTES)]


def extra_param_prefixes() -> list[str]:
    """Return the prefixes of the extra parameterized routes; each app appends its int syntax.

    ``/api/v1/resource{i}/items/`` + ``<int:id>`` (or ``{id:int}``…): they share prefixes
    with the static routes so a router cannot dismiss them by their first segment alone.
    """
    return [f"/api/v1/resource{i}/items/" for i in range(EXTRA_ROUTES)]


ROWS: list[dict[str, Any]] = [
    {"id": i, "name": f"Item {i} & sons", "price": round(3.5 * i + 0.25, 2)} for i in range(10)
]
"""The 10 rows of the template table; the ``&`` makes every engine pay for autoescaping."""

TEMPLATE_TITLE = "Inventory"

ECHO_PAYLOAD: dict[str, Any] = {
    "id": 1234,
    "customer": "Ada Lovelace",
    "email": "ada@example.com",
    "tags": ["priority", "gift", "express"],
    "items": [
        {
            "sku": f"SKU-{i:04d}",
            "name": f"Widget model {i}",
            "qty": i + 1,
            "price": round(9.99 + i, 2),
        }
        for i in range(10)
    ],
    "note": "Leave the parcel at the front desk; ring twice. " * 4,
}
"""The ~1 KB JSON body POSTed to /echo; every app validates it into its ``Order`` model."""


def production_jinja_env() -> Any:
    """The Jinja2 environment every app renders the table with: production settings.

    Autoescaping on and ``auto_reload`` off (no file stat per render), as BlackSheep
    does by default, so the template endpoint compares renders, not reload checks.
    """
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True, auto_reload=False
    )
