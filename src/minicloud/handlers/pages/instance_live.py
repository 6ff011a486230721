"""The mini PC page's live parts: how to reach the guest by SSH, and its operation's steps as it runs.

``ssh_ways`` lists what the platform offers from the student's own machine — a public IP; the port the
host forwards to the guest's SSH (QEMU user networking, bound to the host's loopback: reached through the
host as a jump host); the guest's private address, through the host as a jump host — each with the
command and the address to copy. ``operation`` is the mini PC's latest job as steps with their progress.
"""
from __future__ import annotations

from minicloud.handlers.pages.common import as_utc

# The terminal (xterm.js) sizes and colours its screen with <style> elements it writes itself; scripts
# stay 'self' only.
TERMINAL_CSP = ("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
                "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_STEPS = {  # per kind, the steps between "queued" and "done" that the mini PC's state reveals
    "instance.create": ("placed", "built"),
}


def _login(instance: dict) -> tuple[str, str] | None:
    """(user, address) of the connect line the service gives (``ssh [-p N] user@address``)."""
    command = (instance.get("connect") or {}).get("ssh")
    if not command:
        return None
    user, _, address = command.split()[-1].partition("@")
    return (user, address) if address else None


def ssh_state(instance: dict) -> str:
    """What the SSH line says: "ready" (a command that works), "stopped", "error" or "not_ready"."""
    state = instance["state"]
    if state == "running" and instance["connect"].get("ssh"):
        return "ready"
    if state in ("stopped", "stopping"):
        return "stopped"
    if state == "error":
        return "error"
    return "not_ready"


def ssh_ways(ctx, instance: dict) -> list[dict]:
    login = _login(instance)
    user = login[0] if login else "student"
    host = ctx.request.host.rsplit(":", 1)[0].strip("[]") or "localhost"
    account = ctx.principal.username
    ways = []
    if instance.get("public_ip"):
        ways.append({"kind": "public_ip", "command": f"ssh {user}@{instance['public_ip']}",
                     "address": instance["public_ip"]})
    port = (instance.get("nic") or {}).get("ssh_port")
    if port and (instance["nic"].get("mode") == "user"):
        ways.append({"kind": "forwarded", "command": f"ssh -J {account}@{host} -p {port} {user}@127.0.0.1",
                     "address": f"{host} → 127.0.0.1:{port}", "port": port, "host": host})
    mode = (instance.get("nic") or {}).get("mode")
    on_network = mode in ("bridge", "network")  # the guest's own address (not QEMU's user network)
    private = (instance.get("private_ip") if mode == "bridge" else None) or (
        login[1] if on_network and login and login[1] != "127.0.0.1" else None)
    if private:
        ways.append({"kind": "jump", "command": f"ssh -J {account}@{host} {user}@{private}", "address": private,
                     "host": host})
    if instance["connect"].get("ssh"):
        ways.append({"kind": "on_host", "command": instance["connect"]["ssh"],
                     "address": login[1] if login else "", "host": host})
    return ways


def operation(ctx, instance: dict) -> dict | None:
    """The mini PC's latest operation with its steps (each done, current or waiting) and progress."""
    job = ctx.services.operations.latest_for(ctx.project.id, str(instance["id"]))
    if job is None:
        return None
    state = job["state"]
    middle = list(_STEPS.get(job["kind"], ()))
    reached = {"queued": True, "started": job["started_at"] is not None,
               "placed": instance.get("host") is not None and instance["state"] != "pending",
               "built": instance["state"] not in ("pending", "building"),
               "done": state in ("succeeded", "failed")}
    names = ["queued", "started", *middle, "done"]
    steps, current_found = [], False
    for name in names:
        done = reached[name] or reached["done"]
        status = "done" if done else ("current" if not current_found and state != "failed" else "waiting")
        current_found = current_found or status == "current"
        steps.append({"name": name, "status": status})
    if state == "failed":
        steps[-1]["status"] = "failed"
    for extra in (job.get("result") or {}).get("steps", []) if isinstance(job.get("result"), dict) else []:
        steps.insert(-1, {"name": str(extra.get("step", "")), "status": "done" if extra.get("ok") else "failed",
                          "custom": True})
    done = sum(1 for s in steps if s["status"] == "done")
    return {**job, "steps": steps, "done": done, "total": len(steps),
            "started": as_utc(job["started_at"]), "finished": as_utc(job["finished_at"]),
            "active": state in ("queued", "running")}
