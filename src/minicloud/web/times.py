"""Times as the console shows them: ``<time datetime="ISO">`` with a fallback text in the page's zone
(KST for Korean, UTC for English); static/time.js rewrites each into the browser's own time zone."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from markupsafe import Markup

ZONES = {"ko": (timezone(timedelta(hours=9)), "KST"), "en": (timezone.utc, "UTC")}


def moment(value, lang: str, seconds: bool = False, date_only: bool = False) -> Markup | str:
    """A ``<time>`` element for an aware datetime (naive ones count as UTC); "—" for None. ``seconds`` adds
    the seconds, ``date_only`` shows the day alone (in the zone, so a late-evening UTC time is the next day
    in Korea)."""
    if not isinstance(value, datetime):
        return "—" if value is None else str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    zone, label = ZONES.get(lang, ZONES["en"])
    iso = value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    local = value.astimezone(zone)
    if date_only:
        return Markup('<time datetime="{}" data-date-only="1" title="{}">{}</time>').format(
            iso, iso, local.strftime("%Y-%m-%d"))
    shown = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return Markup('<time datetime="{}"{} title="{}">{} {}</time>').format(
        iso, Markup(' data-seconds="1"') if seconds else "", iso, shown, label)
