"""Times as the console writes them: <time datetime> in UTC, the fallback text in KST (ko) or UTC (en)."""
from datetime import datetime, timedelta, timezone

from minicloud.web.times import moment

LATE = datetime(2026, 12, 2, 16, 5, 9, tzinfo=timezone.utc)  # 01:05 the next day in Seoul


def test_korean_pages_say_kst_and_english_pages_utc():
    assert str(moment(LATE, "ko")) == ('<time datetime="2026-12-02T16:05:09Z" title="2026-12-02T16:05:09Z">'
                                       '2026-12-03 01:05 KST</time>')
    assert str(moment(LATE, "en")).endswith(">2026-12-02 16:05 UTC</time>")
    assert 'data-seconds="1"' in moment(LATE, "en", seconds=True) and "16:05:09 UTC<" in moment(LATE, "en", seconds=True)


def test_any_zone_in_is_the_same_moment_out_and_a_day_is_the_zones_day():
    seoul = LATE.astimezone(timezone(timedelta(hours=9)))
    assert moment(seoul, "en") == moment(LATE, "en")
    assert moment(datetime(2026, 12, 2, 16, 5, 9), "en") == moment(LATE, "en")  # naive counts as UTC
    assert str(moment(LATE, "ko", date_only=True)).endswith('data-date-only="1" title="2026-12-02T16:05:09Z">'
                                                            '2026-12-03</time>')
    assert moment(None, "ko") == "—"
