"""``gobstopper openapi module:app``: print the app's OpenAPI document.

For CI (diff the committed document against the code's) and for client
generators. The output is the served document, indented, with a final newline.
"""

from __future__ import annotations

import sys

import msgspec


def openapi_command(target: str) -> int:
    """Print the OpenAPI document of the app at ``target`` (``module:app``); return 0.

    Raises ``CLIError`` (exit status 2, one line) when ``target`` does not
    name a Gobstopper app.
    """
    # NOTE: imported here, not at the top: gobstopper.cli imports this module to wire the command.
    from gobstopper.cli import CLIError, load_app_quietly
    from gobstopper.core.app import Gobstopper
    from gobstopper.openapi.builder import openapi_json

    app = load_app_quietly(target)
    if not isinstance(app, Gobstopper):
        raise CLIError(f"{target} is not a Gobstopper app (only those describe their routes)")
    sys.stdout.write(msgspec.json.format(openapi_json(app), indent=2).decode() + "\n")
    return 0
