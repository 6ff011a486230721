"""What an app's Kubernetes objects mean to a person: a pure function of the Deployment, its Pods
and Events (raw Kubernetes JSON as the API returns it).

``interpret(deployment, pods, events, now, pending_timeout) -> (status, message_key, details)``

In order: MISSING (no Deployment), STOPPED (zero replicas asked), IMAGE_NOT_FOUND (a container
waiting with ErrImagePull / ImagePullBackOff / InvalidImageName), CRASHING (CrashLoopBackOff),
RUNNING (ready replicas ≥ desired), INSUFFICIENT_RESOURCES (a Pod still Pending after
``pending_timeout`` seconds, with a FailedScheduling Event for Insufficient cpu/memory), else PENDING.
"""
from __future__ import annotations

import re
from datetime import datetime

IMAGE_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})
CRASH_REASONS = frozenset({"CrashLoopBackOff"})
_INSUFFICIENT = re.compile(r"Insufficient (cpu|memory)", re.IGNORECASE)
MESSAGE_KEYS = {
    "RUNNING": "apps.status.running", "PENDING": "apps.status.pending",
    "IMAGE_NOT_FOUND": "apps.status.image_not_found", "INSUFFICIENT_RESOURCES": "apps.status.insufficient_resources",
    "CRASHING": "apps.status.crashing", "STOPPED": "apps.status.stopped", "MISSING": "apps.status.missing",
}


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _container_statuses(pod: dict) -> list[dict]:
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])


def _waiting(pods: list[dict], reasons: frozenset) -> dict | None:
    """The first container waiting for one of ``reasons``: {pod, container, reason, message, restarts}."""
    for pod in pods:
        for cs in _container_statuses(pod):
            waiting = (cs.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in reasons:
                return {"pod": (pod.get("metadata") or {}).get("name"), "container": cs.get("name"),
                        "reason": waiting["reason"], "message": waiting.get("message", ""),
                        "restarts": int(cs.get("restartCount") or 0)}
    return None


def _pending_pods(pods: list[dict]) -> list[dict]:
    return [p for p in pods if (p.get("status") or {}).get("phase") == "Pending"
            and not (p.get("metadata") or {}).get("deletionTimestamp")]


def _insufficient_event(events: list[dict], pod_names: set[str]) -> dict | None:
    for event in events:
        involved = event.get("involvedObject") or event.get("regarding") or {}
        if event.get("reason") != "FailedScheduling" or not _INSUFFICIENT.search(event.get("message") or event.get("note") or ""):
            continue
        if not involved.get("name") or involved["name"] in pod_names:
            return event
    return None


def _desired(deployment: dict) -> int:
    replicas = (deployment.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def interpret(deployment: dict | None, pods: list[dict], events: list[dict], now: datetime,
              pending_timeout: float) -> tuple[str, str, dict]:
    """(status, message catalog key, details) — see the module docstring for the order of the rules."""
    if deployment is None:
        return "MISSING", MESSAGE_KEYS["MISSING"], {}
    desired = _desired(deployment)
    ready = int((deployment.get("status") or {}).get("readyReplicas") or 0)
    figures = {"desired": desired, "ready": ready}
    if desired == 0:
        return "STOPPED", MESSAGE_KEYS["STOPPED"], figures
    image = _waiting(pods, IMAGE_REASONS)
    if image:
        return "IMAGE_NOT_FOUND", MESSAGE_KEYS["IMAGE_NOT_FOUND"], {**figures, **image}
    crash = _waiting(pods, CRASH_REASONS)
    if crash:
        return "CRASHING", MESSAGE_KEYS["CRASHING"], {**figures, **crash}
    if ready >= desired:
        return "RUNNING", MESSAGE_KEYS["RUNNING"], figures
    pending = _pending_pods(pods)
    started = [t for t in (parse_time((p.get("metadata") or {}).get("creationTimestamp")) for p in pending) if t]
    if started and (now - min(started)).total_seconds() >= pending_timeout:
        names = {(p.get("metadata") or {}).get("name") for p in pending}
        event = _insufficient_event(events, names)
        if event:
            return "INSUFFICIENT_RESOURCES", MESSAGE_KEYS["INSUFFICIENT_RESOURCES"], {
                **figures, "reason": "FailedScheduling", "message": event.get("message") or event.get("note", "")}
    return "PENDING", MESSAGE_KEYS["PENDING"], figures


def event_rows(events: list[dict], limit: int = 20) -> list[dict]:
    """Events as the API shows them, newest first: {type, reason, message, at, object}."""
    rows = []
    for event in events:
        at = (event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
              or (event.get("metadata") or {}).get("creationTimestamp"))
        involved = event.get("involvedObject") or event.get("regarding") or {}
        rows.append({"type": event.get("type", ""), "reason": event.get("reason", ""),
                     "message": event.get("message") or event.get("note") or "", "at": at,
                     "object": f"{involved.get('kind', '')}/{involved.get('name', '')}".strip("/")})
    rows.sort(key=lambda r: r["at"] or "", reverse=True)
    return rows[:limit]
