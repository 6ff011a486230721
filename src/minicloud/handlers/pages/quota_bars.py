"""A project's quotas as the pages show them: per limit its label, what is used of it, in words and for a bar
(the dashboard's card and the project's page)."""
from __future__ import annotations

_SIZES = {"ram_mib": ("MiB", 1), "disk_gib": ("GiB", 1)}


def _label(ctx, resource: str) -> str:
    key = f"quota.{resource}"
    text = ctx.t(key)
    return resource.replace("_", " ").capitalize() if text == key else text


def amount(resource: str, value: int) -> str:
    """A quota figure in the unit the console speaks: MiB of memory, GiB of disk, bytes stored as B…GiB."""
    if resource == "bucket_bytes":
        for unit, size in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
            if value >= size:
                return f"{value / size:.3g} {unit}"
        return f"{value} B"
    unit, divisor = _SIZES.get(resource, ("", 1))
    return f"{value / divisor:g} {unit}".strip()


def quota_rows(ctx, quotas: dict) -> list[dict]:
    """One row per limit of ``quotas`` ({"limits", "usage"} as services.quotas.show answers)."""
    rows = []
    usage = quotas.get("usage", {})
    for resource, limit in quotas.get("limits", {}).items():
        used = int(usage.get(resource, 0))
        used_text = amount(resource, used) if resource == "bucket_bytes" else amount(resource, used).split(" ")[0]
        rows.append({"resource": resource, "label": _label(ctx, resource), "used": used, "limit": limit,
                     "full": limit <= 0 or used >= limit,
                     "text": ctx.t("account.quota_used_of", used=used_text, limit=amount(resource, limit))})
    return rows
