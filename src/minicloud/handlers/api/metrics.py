"""GET /metrics: what Prometheus scrapes (docs/operator-guide.md, "Metrics").

Readable with a global administrator's token (or console session), or from an address in
``metrics.allow`` (loopback by default); anyone else gets 403. The route is not part of the JSON
API (it answers Prometheus's text format and has a rule of its own about who may read it), so the
OpenAPI document leaves it out; its refusals are still the JSON error envelope, not a console page.
"""
from __future__ import annotations

import ipaddress

from werkzeug.wrappers import Response

from minicloud import metrics
from minicloud.errors import ApiError, Forbidden
from minicloud.web.errors import envelope
from minicloud.web.jsonio import json_response

# (what ResourceCounts counts, the gauge's name, its help text)
GAUGES = (
    ("jobs", "minicloud_job_queue_depth", "Jobs waiting (queued, retries included) or running, by state"),
    ("instances", "minicloud_instances", "Mini PCs in each state (deleted ones are not counted)"),
    ("apps", "minicloud_apps", "Apps in each state"),
)


def scrape(ctx):
    try:
        if not may_read(ctx):
            raise Forbidden("error.metrics_forbidden", code="metrics_forbidden")
        counts = ctx.services.resource_counts.by_state()
    except ApiError as error:  # a scraper reads the envelope; the app would draw a console page
        return json_response(envelope(error, ctx.lang), error.status, error.headers)
    gauges = [metrics.StateGauge(name, text, counts[resource]) for resource, name, text in GAUGES]
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
