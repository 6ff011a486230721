"""The administration page (global administrators): every account."""
from __future__ import annotations

from minicloud.handlers.pages.common import render


def admin(ctx):
    return render(ctx, "admin.html", users=ctx.services.accounts.list_users())
