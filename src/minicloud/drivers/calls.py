"""The requests a driver made, as the console's "underneath" panels show them.

A driver keeps ``self._local = threading.local()``; each public method is wrapped with
``@public`` (a fresh list per outermost call in this thread) and every request it makes is
appended as a ``RecordedCall``; ``last_calls`` reads them back in the same thread. ``@public``
also times each outermost call for GET /metrics, labelled with the driver module's name
(libvirt, swift, kubernetes) and the method's.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any, Callable

from minicloud.metrics import observe_backend_call


@dataclass(frozen=True)
class RecordedCall:
    """One request to the infrastructure: method, path (never a token), status, milliseconds."""

    method: str
    path: str
    status: int | None   # None when no answer came (connection refused, timeout)
    ms: float

    def as_dict(self) -> dict:
        return {"method": self.method, "path": self.path, "status": self.status, "ms": round(self.ms, 1)}


def public(method: Callable) -> Callable:
    """Start a fresh ``last_calls`` list for this thread (nested public calls share the outer one), and
    time the outermost call for the metrics."""

    backend = method.__module__.rpartition(".")[2]

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        local = self._local
        depth = getattr(local, "depth", 0)
        if depth == 0:
            local.calls = []
        local.depth = depth + 1
        started = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            local.depth = depth
            if depth == 0:
                observe_backend_call(backend, method.__name__, time.perf_counter() - started)

    return wrapper
