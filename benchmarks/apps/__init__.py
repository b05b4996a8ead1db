"""One app per framework, all serving the same endpoints from the same shared data.

Each module is imported by a Granian worker running inside that framework's own virtual
environment, so a module may only import its own framework, msgspec/pydantic, jinja2 and
``benchmarks.apps.common`` (standard library only).
"""
