"""``make bench`` keeps working: each benchmark runs, at its smallest, and prints its figures.

The benchmarks are reports (they exit 0 whatever the ratios), so nothing else would notice when a
refactor breaks one of them — bench/scale.py and bench/app_deploy.py both broke that way once. The
figures themselves are not asserted (they are timings; see the README's "Benchmarks"), only that
each benchmark measured what it says, by the path it says.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]

SMALLEST = {
    "api_overhead.py": (["--duration", "1", "--warmup", "1", "--rounds", "1", "--split-requests", "50",
                         "--split-rounds", "1"], ["ratio minicloud/bare:", "where minicloud's time goes"]),
    "storage_stream.py": (["--mib", "8", "--rounds", "1"],
                          ["ratio API/direct, upload", "ratio API/direct, download"]),
    "app_deploy.py": (["--apps", "3", "--rounds", "1"], ["measured through: service:", "ratio control plane"]),
    "scale.py": (["--sizes", "100,200", "--projects", "5", "--domains", "100", "--requests", "2"],
                 ["reconciler pass", "libvirt calls per pass"]),
    "network.py": (["--rounds", "1", "--seconds", "1", "--pings", "200", "--connects", "20", "--changes", "3",
                    "--rules", "1,10", "--nics", "2,10"],
                   ["ratio enforced/bare0: throughput", "ratio enforced/bare1: throughput", "rule change -> enforced",
                    "apply time from the small state", "throughput with 10 rules ÷ with 1 rule"]),
    "vm_boot.py": (["--count", "1", "--warmup", "0"], ["ratio platform/direct", "job waiting in the queue"]),
}


@pytest.mark.parametrize("script", sorted(SMALLEST))
def test_each_benchmark_runs_and_reports_its_figures(script):
    arguments, expected = SMALLEST[script]
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *arguments], cwd=ROOT, text=True,
                          capture_output=True, timeout=600, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-3000:]
    for line in expected:
        assert line in done.stdout, f"{line!r} missing from:\n{said[-3000:]}"
    assert "failed" not in done.stdout.lower(), said[-3000:]  # e.g. "the service path failed: …"
