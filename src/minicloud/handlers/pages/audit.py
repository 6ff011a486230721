"""The audit page (project admins): the acting project's entries, newest first, filtered and paged."""
from __future__ import annotations

from minicloud.handlers.pages.common import in_utc, render

PAGE_SIZE = 50
RESULTS = ("success", "failure")


def audit(ctx):
    args = ctx.request.args
    filters = {"action": args.get("action", "").strip()[:100], "result": args.get("result", "")}
    if filters["result"] not in RESULTS:
        filters["result"] = ""
    listing = ctx.services.audit.search(ctx.principal, ctx.project, limit=PAGE_SIZE,
                                        cursor=args.get("cursor") or None,
                                        action=filters["action"] or None, result=filters["result"] or None)
    next_url = None
    if listing["next"]:
        next_url = ctx.url_for("pages.audit", cursor=listing["next"],
                               **{k: v for k, v in filters.items() if v})
    return render(ctx, "audit.html", entries=in_utc(listing["items"]), filters=filters, results=RESULTS,
                  next_url=next_url, paged=bool(args.get("cursor")))
