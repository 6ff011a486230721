"""Lab tests run only against a real cluster: without a usable KUBECONFIG they are deselected, not skipped.

"Usable" means KUBECONFIG names at least one existing file (it may list several, separated by
``os.pathsep``, as kubectl allows). A one-line note at the end of the run says how many were left
out and how to run them.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

_deselected: list[pytest.Item] = []


def usable_kubeconfig() -> str | None:
    """The KUBECONFIG value when it names an existing file, else None."""
    value = os.environ.get("KUBECONFIG", "").strip()
    if value and any(Path(part).expanduser().is_file() for part in value.split(os.pathsep) if part):
        return value
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if usable_kubeconfig():
        return
    lab = [item for item in items if item.get_closest_marker("lab")]
    if not lab:
        return
    items[:] = [item for item in items if not item.get_closest_marker("lab")]
    config.hook.pytest_deselected(items=lab)
    _deselected.extend(lab)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    if _deselected:
        terminalreporter.write_line(
            f"lab tests: {len(_deselected)} deselected (set KUBECONFIG to a cluster to run them)")
