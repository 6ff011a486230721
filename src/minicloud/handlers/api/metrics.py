"""GET /metrics: what Prometheus scrapes (docs/operator-guide.md, "Metrics").

Readable with a global administrator's token (or console session), or from an address in
``metrics.allow`` (loopback by default); anyone else gets 403 (the JSON error envelope). The route
answers Prometheus's text format, so the OpenAPI document leaves it out. When PostgreSQL cannot be
reached the scrape still answers, with every process's counters and ``minicloud_database_up 0``
instead of the counts by state: an outage is when an operator needs the rest most.
"""
from __future__ import annotations

import ipaddress

from werkzeug.wrappers import Response

from minicloud import metrics
from minicloud.errors import Forbidden, ServiceUnavailable

# (what ResourceCounts counts, the gauge's name, its help text)
GAUGES = (
    ("jobs", "minicloud_job_queue_depth", "Jobs waiting (queued, retries included) or running, by state"),
    ("instances", "minicloud_instances", "Mini PCs in each state (deleted ones are not counted)"),
    ("apps", "minicloud_apps", "Apps in each state"),
)
DATABASE_UP = ("minicloud_database_up", "1 when the scrape could count from PostgreSQL, 0 when it could not")


def scrape(ctx):
    if not may_read(ctx):
        raise Forbidden("error.metrics_forbidden", code="metrics_forbidden")
    try:
        counts = ctx.services.resource_counts.by_state()
    except ServiceUnavailable:
        gauges = [metrics.Gauge(*DATABASE_UP, 0)]
    else:
        gauges = [metrics.Gauge(*DATABASE_UP, 1)]
        gauges += [metrics.StateGauge(name, text, counts[resource]) for resource, name, text in GAUGES]
    body, content_type = metrics.exposition(gauges, ctx.request.headers.get("Accept"))
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


def may_read(ctx) -> bool:
    """A global administrator, whatever the address; anyone else from an allowed address."""
    if ctx.principal is not None and ctx.principal.is_admin:
        return True
    try:
        address = ipaddress.ip_address(ctx.request.remote_addr or "")
    except ValueError:  # no peer address (a Unix socket)
        return False
    address = getattr(address, "ipv4_mapped", None) or address  # ::ffff:127.0.0.1 is 127.0.0.1
    return any(address in network for network in ctx.config.networks("metrics.allow"))
