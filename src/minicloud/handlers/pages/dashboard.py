"""The home redirect and the dashboard (UC-05): one card per loader, a failing card never hides the others."""
from __future__ import annotations

from minicloud.handlers.pages.audit_words import console_page_exists, described
from minicloud.handlers.pages.common import render
from minicloud.handlers.pages.quota_bars import quota_rows
from minicloud.web.session import cookie


def home(ctx):
    """Signed in: the dashboard; a visitor: the landing page saying what minicloud is."""
    if ctx.principal is not None:
        return ctx.redirect("/dashboard")
    return render(ctx, "landing.html")


def _label(ctx, key: str, fallback: str) -> str:
    text = ctx.t(key)
    return fallback.replace("_", " ").capitalize() if text == key else text


def _view(ctx, card) -> dict:
    """What the template needs for one card: its title, whether it loaded, and its data."""
    view = {"name": card.name, "ok": card.ok, "data": card.data,
            "title": _label(ctx, f"card.{card.name}.title", card.name)}
    if not card.ok and not _backend_configured(ctx, card.name):
        view["not_connected"] = True  # said in grey: nothing is broken, the operator has not connected it
    if card.ok and card.name == "activity":
        card.data["events"] = described(ctx.t, ctx.services.audit, card.data.get("events", []), console_page_exists(ctx))
    elif card.ok and card.name == "quotas":
        view["quotas"] = quota_rows(ctx, card.data)
    elif card.ok and card.name not in ("project", "operations", "activity"):
        view["rows"] = [(_label(ctx, f"card.{card.name}.{k}", k), v) for k, v in card.data.items()]
    return view


def dashboard(ctx):
    cards = ctx.services.dashboard.cards(ctx.principal, ctx.project)
    deleting = ctx.request.args.get("deleting", "")[:64]
    notice = ctx.t("dashboard.project_deleting", project=deleting) if deleting else None
    return render(ctx, "dashboard.html", cards=[_view(ctx, card) for card in cards], notice=notice,
                  first_run=_first_run(ctx))


# ---- the first-run panel and the backend cards (issue 11, item 6) --------------------------------
FIRST_RUN_COOKIE = "mc_first_run"
FIRST_RUN_LINKS = {"instance": "/mini-pcs/new", "keypair": "/key-pairs", "bucket": "/storage"}  # key pairs: the account console


def _backend_configured(ctx, card_name: str) -> bool:
    """False for a card whose backend the operator has not connected (apps without a Kubernetes cluster)."""
    if card_name == "apps":
        return bool(ctx.services.apps.cluster().get("configured"))
    return True


def _first_run(ctx) -> dict | None:
    """The newcomer's steps with whether each is done; None once all are done or the panel was dismissed."""
    if cookie(ctx.request, FIRST_RUN_COOKIE) == "dismissed":
        return None
    try:
        done = ctx.services.first_run.steps(ctx.project.id)
    except Exception:  # noqa: BLE001 - a guide must never take the dashboard down
        return None
    if all(done.values()):
        return None
    steps = [{"name": name, "done": finished, "url": FIRST_RUN_LINKS[name]} for name, finished in done.items()]
    return {"steps": steps, "done": sum(done.values()), "total": len(steps)}


def dismiss_first_run(ctx):
    """POST /dashboard/first-run: the panel stays closed in this browser."""
    ctx.set_cookie(FIRST_RUN_COOKIE, "dismissed", max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
                   secure=bool(ctx.config.get("server.secure_cookies")), path="/")
    return ctx.redirect("/dashboard")
