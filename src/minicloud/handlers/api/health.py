"""/healthz (the process answers) and /readyz (the database and each backend)."""
from __future__ import annotations

from minicloud.web.schemas import STRING, map_of, nullable, obj

LIVE = obj({"status": {"type": "string", "enum": ["ok"]}})
_CHECK = obj({"status": {"type": "string", "enum": ["ok", "degraded", "off", "unavailable"],
                         "description": "degraded / off: the network is not enforced (can_apply false under "
                                        "enforcement auto / enforcement off); minicloud is ready all the same"},
              "error": {"type": "string", "description": "Why it is unavailable"},
              "uri": STRING, "domain_type": STRING, "url": STRING, "server": nullable(STRING),
              "version": nullable(STRING),
              "how": {"type": "string", "description": "How to connect a backend that is not configured"}},
             optional=("error", "uri", "domain_type", "url", "server", "version", "how"), additionalProperties=True)
READINESS = obj({"status": {"type": "string", "enum": ["ready", "unavailable"],
                            "description": "ready (200) when the database answers, else unavailable (503)"},
                 "database": _CHECK,
                 "backends": map_of(_CHECK, "Each configured backend (libvirt, swift, kubernetes, network): reported, "
                                            "not required")})


def healthz(ctx):
    return ctx.respond({"status": "ok"})


def readyz(ctx):
    ready, report = ctx.services.health.readiness()
    report["status"] = "ready" if ready else "unavailable"
    kubernetes = report.get("backends", {}).get("kubernetes")
    if kubernetes is not None and kubernetes.get("status") != "ok" and not ctx.services.apps.cluster()["configured"]:
        kubernetes["how"] = ctx.t("guide_console.readyz.kubernetes_how")  # the operator's instructions
    return ctx.respond(report, 200 if ready else 503)
