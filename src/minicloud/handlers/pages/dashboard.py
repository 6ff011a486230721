"""The home redirect and the dashboard (UC-05): one card per loader, a failing card never hides the others."""
from __future__ import annotations

from minicloud.handlers.pages.common import in_utc, render

_SIZES = {"ram_mib": ("MiB", 1), "disk_gib": ("GiB", 1), "bucket_bytes": ("GiB", 1024 ** 3)}


def home(ctx):
    return ctx.redirect("/dashboard" if ctx.principal is not None else "/login")


def _label(ctx, key: str, fallback: str) -> str:
    text = ctx.t(key)
    return fallback.replace("_", " ").capitalize() if text == key else text


def _quota_rows(ctx, limits: dict) -> list[tuple[str, str]]:
    rows = []
    for resource, limit in limits.items():
        unit, divisor = _SIZES.get(resource, ("", 1))
        amount = limit / divisor
        value = f"{amount:g} {unit}".strip()
        rows.append((_label(ctx, f"quota.{resource}", resource), value))
    return rows


def _view(ctx, card) -> dict:
    """What the template needs for one card: its title, whether it loaded, and its data."""
    view = {"name": card.name, "ok": card.ok, "data": card.data,
            "title": _label(ctx, f"card.{card.name}.title", card.name)}
    if card.ok and card.name == "activity":
        in_utc(card.data.get("events", []))
    elif card.ok and card.name == "quotas":
        view["rows"] = _quota_rows(ctx, card.data)
    elif card.ok and card.name not in ("project", "operations", "activity"):
        view["rows"] = [(_label(ctx, f"card.{card.name}.{k}", k), v) for k, v in card.data.items()]
    return view


def dashboard(ctx):
    cards = ctx.services.dashboard.cards(ctx.principal, ctx.project)
    deleting = ctx.request.args.get("deleting", "")[:64]
    notice = ctx.t("dashboard.project_deleting", project=deleting) if deleting else None
    return render(ctx, "dashboard.html", cards=[_view(ctx, card) for card in cards], notice=notice)
