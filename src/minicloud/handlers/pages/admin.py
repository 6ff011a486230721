"""The administration page (global administrators): every account, and each host with the orphans found on it."""
from __future__ import annotations

from minicloud.handlers.pages.common import render


def admin(ctx):
    return render(ctx, "admin.html", users=ctx.services.accounts.list_users(), hosts=ctx.services.hosts.reports())
