"""/healthz (the process answers) and /readyz (the database and each backend)."""
from __future__ import annotations


def healthz(ctx):
    return ctx.respond({"status": "ok"})


def readyz(ctx):
    ready, report = ctx.services.health.readiness()
    report["status"] = "ready" if ready else "unavailable"
    return ctx.respond(report, 200 if ready else 503)
