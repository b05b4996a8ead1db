"""A Granian target that profiles another app inside the served worker.

``granian ... benchmarks.profiled:app`` serves the app named by ``PROFILED_TARGET``
(``module:attribute``) with cProfile running on the worker's event-loop thread from
import to shutdown; at shutdown (``__rsgi_del__``) the stats go to ``PROFILED_OUTPUT``.
The served callable is the target's own ``__rsgi__`` (or the target itself, for a plain
RSGI function): no wrapper frame is added per request. ``benchmarks/profile_worker.py``
drives it.
"""

from __future__ import annotations

import cProfile
import importlib
import os
from typing import Any

_profiler = cProfile.Profile()


class ProfiledApp:
    """Serve ``target`` unchanged; dump the worker's profile when the worker stops."""

    def __init__(self, target: Any, output: str) -> None:
        self._target = target
        self._output = output
        self.__rsgi__ = getattr(target, "__rsgi__", target)

    def __rsgi_init__(self, loop: Any) -> None:
        init = getattr(self._target, "__rsgi_init__", None)
        if init is not None:
            init(loop)
        _profiler.enable()

    def __rsgi_del__(self, loop: Any) -> None:
        _profiler.disable()
        _profiler.dump_stats(self._output)
        delete = getattr(self._target, "__rsgi_del__", None)
        if delete is not None:
            delete(loop)


def _load(spec: str) -> Any:
    module_name, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module_name), attribute or "app")


app = ProfiledApp(_load(os.environ["PROFILED_TARGET"]), os.environ["PROFILED_OUTPUT"])
