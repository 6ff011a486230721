"""The audit page (project admins): the acting project's entries, newest first, in words, filtered and paged.

Filters: ``q`` (words a person would type, matched against the actions' sentences in the page's
language), ``action`` (an exact action code) and ``result``.
"""
from __future__ import annotations

from minicloud.handlers.pages.audit_words import console_page_exists, described, matching_actions, sentence
from minicloud.handlers.pages.common import render

PAGE_SIZE = 50
RESULTS = ("success", "failure")


def action_codes(ctx) -> list[str]:
    """Every action code the audit log can hold: the endpoints of the audited routes, once each."""
    return list(dict.fromkeys(route.endpoint for route in ctx.app.router.routes if route.audited))


def audit(ctx):
    args = ctx.request.args
    filters = {"q": " ".join(args.get("q", "").split())[:100], "action": args.get("action", "").strip()[:100],
               "result": args.get("result", "")}
    if filters["result"] not in RESULTS:
        filters["result"] = ""
    codes = action_codes(ctx)
    actions = matching_actions(ctx.t, codes, filters["q"]) if filters["q"] else None
    listing = ctx.services.audit.search(ctx.principal, ctx.project, limit=PAGE_SIZE,
                                        cursor=args.get("cursor") or None, actions=actions,
                                        action=filters["action"] or None, result=filters["result"] or None)
    kept = {k: v for k, v in filters.items() if v}
    next_url = ctx.url_for("pages.audit", cursor=listing["next"], **kept) if listing["next"] else None
    suggestions = sorted({sentence(ctx.t, code) for code in codes})
    return render(ctx, "audit.html", entries=described(ctx.t, ctx.services.audit, listing["items"], console_page_exists(ctx)),
                  filters=filters, results=RESULTS, next_url=next_url, paged=bool(args.get("cursor")),
                  first_url=ctx.url_for("pages.audit", **kept), suggestions=suggestions)
