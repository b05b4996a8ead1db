"""A static folder with files, symlinks in and out of it, and attempts to escape it.

``make_tree`` builds it; ``ESCAPES`` and ``DOUBLE_ENCODED`` are request paths
that must never serve ``SECRET`` (the file beside the folder). Used by the
in-process static tests (tests/middleware/test_static.py) and by Granian's
(tests/e2e/test_responses.py).
"""

from __future__ import annotations

import os
from pathlib import Path

CSS = b"body { color: red }\n"
SECRET = b"TOP SECRET outside the folder"

# Escape attempts as sent on the wire (the client decodes them once, like Granian).
ESCAPES = [
    "/static/../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/%2e%2e%2fsecret.txt",
    "/static/..%2fsecret.txt",
    "/static/sub/..%2f..%2fsecret.txt",
    "/static/..\\secret.txt",
    "/static/..%5csecret.txt",
    "/static/%5c..%5csecret.txt",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/app.css%00.png",
    "/static/%00",
    "/static/link.txt",
    "/static/linkdir/secret.txt",
    "/static/sub/../../secret.txt",
]
# Double encoding decodes once to a literal "%2e%2e" name: not found, never an escape.
DOUBLE_ENCODED = ["/static/%252e%252e/secret.txt", "/static/%252e%252e%252fsecret.txt"]


def make_tree(base: Path) -> Path:
    """static/ with files, an inside symlink, and symlinks pointing outside."""
    static = base / "static"
    (static / "sub").mkdir(parents=True)
    (static / "app.css").write_bytes(CSS)
    (static / "sub" / "page.html").write_text("<p>hi</p>")
    (static / "data.bin").write_bytes(bytes(range(256)))
    (base / "secret.txt").write_bytes(SECRET)
    os.symlink(base / "secret.txt", static / "link.txt")
    os.symlink(base / "missing-outside.txt", static / "deadlink.txt")
    os.symlink(base, static / "linkdir")
    os.symlink(static / "app.css", static / "alias.css")
    os.symlink(static / "sub", static / "subalias")
    return static
