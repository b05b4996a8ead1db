"""Schemathesis hooks for the e2e run (loaded through ``SCHEMATHESIS_HOOKS``).

Form fields are text: an "invalid" value Schemathesis writes into one (an
object serialized as ``{}``) is a valid string for a ``str`` field, so
"invalid data was accepted" is only meaningful for JSON bodies. The run
replaces the built-in ``negative_data_rejection`` with this check, which
skips form bodies and applies the built-in one to everything else.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.specs.openapi.checks import negative_data_rejection

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@schemathesis.check
def negative_json_data_rejection(ctx: Any, response: Any, case: Any) -> bool | None:
    """``negative_data_rejection`` for every request but form bodies."""
    if case.media_type in FORM_TYPES:
        return None
    return negative_data_rejection(ctx, response, case)
