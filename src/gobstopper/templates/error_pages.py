"""Default error pages the framework renders itself.

They are built from plain strings, with no template folder and no Jinja2, so they work in
any app, including when the template system is what failed. Every interpolated value is
HTML-escaped: a 404 page must never reflect a requested path as markup.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from html import escape

_STYLE = """
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--text:#1f2430;--muted:#5b6475;
--accent:#d9480f;--code:#f1f3f5;--line:#e3e6ea}
@media (prefers-color-scheme:dark){:root{--bg:#14161a;--card:#1d2026;--text:#e6e8eb;
--muted:#9aa3b2;--accent:#ff8a4c;--code:#262a31;--line:#30343c}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
background:var(--bg);color:var(--text);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:min(100% - 2rem,56rem);margin:2rem auto;padding:2rem 2.5rem;background:var(--card);
border:1px solid var(--line);border-radius:12px;box-shadow:0 8px 30px rgb(0 0 0/.08)}
.status{margin:0;color:var(--accent);font-size:3.5rem;font-weight:700;line-height:1}
h1{margin:.5rem 0 1rem;font-size:1.5rem}
h2{margin:1.5rem 0 .5rem;font-size:1rem;color:var(--muted);text-transform:uppercase}
p{margin:0;color:var(--muted)}
pre{margin:0;padding:1rem;overflow:auto;background:var(--code);border-radius:8px;
font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap}
table{width:100%;border-collapse:collapse;font-size:.9rem}
th,td{padding:.35rem .5rem;border-bottom:1px solid var(--line);text-align:left;
vertical-align:top;word-break:break-all}
th{width:12rem;color:var(--muted);font-weight:600}
footer{margin-top:2rem;font-size:.8rem;color:var(--muted)}
"""


def _document(title: str, body: str) -> str:
    """Wrap an already-escaped body in the shared page layout."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n<footer>Gobstopper</footer>\n</main>\n</body>\n</html>\n"
    )


def render_error_page(status: int, title: str, message: str) -> str:
    """Return a themed HTML page for an HTTP error status.

    ``title`` is the status's reason phrase ("Not Found"): the page is titled
    "404 Not Found" and shows the status above the phrase. ``message`` is a
    sentence for the visitor, left out when it only repeats the title.
    """
    body = f'<p class="status">{escape(str(status))}</p>\n<h1>{escape(title)}</h1>'
    if message != title:
        body += f"\n<p>{escape(message)}</p>"
    return _document(f"{status} {title}", body)


def render_debug_page(exc: BaseException, request_summary: Mapping[str, str]) -> str:
    """Return an HTML page showing an exception, for debug mode only.

    It names the exception type, its message and the full traceback (chained causes
    included), followed by ``request_summary`` (e.g. method, path, client) as a table.
    Never serve it to the public: a traceback reveals source paths and code.
    """
    exc_type = type(exc)
    module = "" if exc_type.__module__ == "builtins" else f"{exc_type.__module__}."
    type_name = f"{module}{exc_type.__qualname__}"
    trace = "".join(traceback.format_exception(exc))
    rows = "\n".join(
        f"<tr><th>{escape(str(key))}</th><td>{escape(str(value))}</td></tr>"
        for key, value in request_summary.items()
    )
    body = (
        '<p class="status">500</p>\n'
        f"<h1>{escape(type_name)}</h1>\n"
        f"<p>{escape(str(exc))}</p>\n"
        f"<h2>Traceback</h2>\n<pre>{escape(trace)}</pre>\n"
        f"<h2>Request</h2>\n<table>\n{rows}\n</table>"
    )
    return _document(f"{exc_type.__name__}: {exc}", body)
