"""The home redirect and the dashboard (UC-05): one card per loader, a failing card never hides the others."""
from __future__ import annotations

from minicloud.handlers.pages.common import in_utc, render
from minicloud.handlers.pages.quota_bars import quota_rows


def home(ctx):
    return ctx.redirect("/dashboard" if ctx.principal is not None else "/login")


def _label(ctx, key: str, fallback: str) -> str:
    text = ctx.t(key)
    return fallback.replace("_", " ").capitalize() if text == key else text


def _view(ctx, card) -> dict:
    """What the template needs for one card: its title, whether it loaded, and its data."""
    view = {"name": card.name, "ok": card.ok, "data": card.data,
            "title": _label(ctx, f"card.{card.name}.title", card.name)}
    if card.ok and card.name == "activity":
        in_utc(card.data.get("events", []))
    elif card.ok and card.name == "quotas":
        view["quotas"] = quota_rows(ctx, card.data)
    elif card.ok and card.name not in ("project", "operations", "activity"):
        view["rows"] = [(_label(ctx, f"card.{card.name}.{k}", k), v) for k, v in card.data.items()]
    return view


def dashboard(ctx):
    cards = ctx.services.dashboard.cards(ctx.principal, ctx.project)
    deleting = ctx.request.args.get("deleting", "")[:64]
    notice = ctx.t("dashboard.project_deleting", project=deleting) if deleting else None
    return render(ctx, "dashboard.html", cards=[_view(ctx, card) for card in cards], notice=notice)
