"""Polling helpers shared by the tests."""
from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 30.0, what: str = "the condition", interval: float = 0.2):
    """``predicate()``'s first truthy value, polled every ``interval`` s; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")
