"""Request bodies the tests send: a multipart/form-data builder and its header.

Shared by the in-process tests (tests/http, tests/middleware) and the ones
against a real server (tests/e2e), so both send byte-identical bodies.
"""

from __future__ import annotations

BOUNDARY = "gobstopperBoundary42"
#: The request header that goes with a ``multipart_body``.
MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


def multipart_body(
    fields: dict[str, str] | None = None, files: dict[str, tuple[str, bytes]] | None = None
) -> bytes:
    """A multipart/form-data body with ``BOUNDARY``: text ``fields``, then ``files``.

    ``files`` maps a field name to ``(filename, content)``.
    """
    out = []
    for name, value in (fields or {}).items():
        out.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, (filename, content) in (files or {}).items():
        out.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    return b"".join(out) + f"--{BOUNDARY}--\r\n".encode()
