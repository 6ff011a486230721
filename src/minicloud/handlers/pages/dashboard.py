"""The home redirect and the dashboard (UC-05): one card per loader, a failing card never hides the others."""
from __future__ import annotations

from minicloud.handlers.pages.common import in_utc, render

_SIZES = {"ram_mib": ("MiB", 1), "disk_gib": ("GiB", 1)}


def home(ctx):
    return ctx.redirect("/dashboard" if ctx.principal is not None else "/login")


def _label(ctx, key: str, fallback: str) -> str:
    text = ctx.t(key)
    return fallback.replace("_", " ").capitalize() if text == key else text


def _amount(resource: str, value: int) -> str:
    """A quota figure in the unit the console speaks: MiB of memory, GiB of disk, bytes stored as B…GiB."""
    if resource == "bucket_bytes":
        for unit, size in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
            if value >= size:
                return f"{value / size:.3g} {unit}"
        return f"{value} B"
    unit, divisor = _SIZES.get(resource, ("", 1))
    return f"{value / divisor:g} {unit}".strip()


def _quota_rows(ctx, quotas: dict) -> list[dict]:
    """One row per limit: its label, what is used and the limit, in words and for the bar."""
    rows = []
    usage = quotas.get("usage", {})
    for resource, limit in quotas.get("limits", {}).items():
        used = int(usage.get(resource, 0))
        used_text = _amount(resource, used) if resource == "bucket_bytes" else _amount(resource, used).split(" ")[0]
        rows.append({"resource": resource, "label": _label(ctx, f"quota.{resource}", resource),
                     "used": used, "limit": limit, "full": limit <= 0 or used >= limit,
                     "text": ctx.t("account.quota_used_of", used=used_text, limit=_amount(resource, limit))})
    return rows


def _view(ctx, card) -> dict:
    """What the template needs for one card: its title, whether it loaded, and its data."""
    view = {"name": card.name, "ok": card.ok, "data": card.data,
            "title": _label(ctx, f"card.{card.name}.title", card.name)}
    if card.ok and card.name == "activity":
        in_utc(card.data.get("events", []))
    elif card.ok and card.name == "quotas":
        view["quotas"] = _quota_rows(ctx, card.data)
    elif card.ok and card.name not in ("project", "operations", "activity"):
        view["rows"] = [(_label(ctx, f"card.{card.name}.{k}", k), v) for k, v in card.data.items()]
    return view


def dashboard(ctx):
    cards = ctx.services.dashboard.cards(ctx.principal, ctx.project)
    deleting = ctx.request.args.get("deleting", "")[:64]
    notice = ctx.t("dashboard.project_deleting", project=deleting) if deleting else None
    return render(ctx, "dashboard.html", cards=[_view(ctx, card) for card in cards], notice=notice)
