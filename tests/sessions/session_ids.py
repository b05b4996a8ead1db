"""Session ids the storage tests feed to every backend (file, memory, Redis).

``INVALID_IDS`` are refused by ``is_valid_session_id`` (the middleware never
issues them); ``HOSTILE_IDS`` add path tricks, control characters and huge
or non-ASCII strings that a storage's public API must still store safely.
"""

from __future__ import annotations

INVALID_IDS = [
    "",
    "a" * 15,
    "a" * 129,
    "../../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd0",
    "abcdefghijklmnop/",
    "abcdefghijklmnop.",
    "abcdefghijklmnop\n",
    "abcdefghijklmno\x00p",
    "abcdefghijklmnop ",
    "abcdefghijklmnop=",
    "abcdefghijklmnop+",
    "äbcdefghijklmnopq",
    "abcdefghijklmno\u0661",  # an Arabic-Indic digit: \w and isalnum() would accept it
]

# Ids the middleware never issues, but a storage's public API accepts (the reference: ``str``).
HOSTILE_IDS = [
    *INVALID_IDS,
    "../../etc/passwd",
    "/etc/passwd",
    "a/b",
    "a\\b",
    "..",
    ".",
    "\x00",
    "x" * 100_000,
    "ünïcødé ✓ 会话",
    "\ud800lone-surrogate",
    "*",
    "session:x",
    "CON",
    "a\r\nb",
]
