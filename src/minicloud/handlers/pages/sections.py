"""Section pages for capabilities that arrive in later issues: a heading and an honest empty state."""
from __future__ import annotations

from minicloud.handlers.pages.common import render


def _section(name: str):
    def page(ctx):
        return render(ctx, "section.html", section=name)
    page.__name__ = name
    page.__doc__ = f"The {name} section."
    return page


networks = _section("networks")
