"""The console's finish (issue 11): state colours readable for everyone, flash cookies that cannot be forged."""
from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from minicloud.web import flash

CSS = Path(__file__).resolve().parents[2] / "src/minicloud/static/look.css"


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_every_state_tone_reads_at_4_5_to_1_at_least():
    css = CSS.read_text()
    tones = dict(re.findall(r"--tone-([a-z]+): (#[0-9a-f]{6});", css))
    backgrounds = dict(re.findall(r"--tone-([a-z]+)-bg: (#[0-9a-f]{6});", css))
    assert set(tones) == set(backgrounds) == {"ok", "busy", "off", "bad", "info"}
    for tone, colour in tones.items():
        assert _contrast(colour, backgrounds[tone]) >= 4.5, tone
        assert _contrast(colour, "#ffffff") >= 4.5, tone  # as text on a card too


class _Ctx:
    """What flash needs of a request: config with a secret, the cookies it sent, the cookies it sets."""

    def __init__(self, cookies=None):
        self.config = SimpleNamespace(jwt_secret=lambda: "s" * 40, get=lambda key: False)
        header = "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())
        self.request = SimpleNamespace(environ={"HTTP_COOKIE": header} if header else {}, cookies=cookies or {})
        self.set_cookies = []

    def set_cookie(self, *args, **kwargs):
        self.set_cookies.append((args, kwargs))

    def t(self, key, **params):
        return f"{key}:{params}"


def test_a_flash_goes_to_the_next_page_once_and_a_changed_one_is_ignored():
    sender = _Ctx()
    flash.flash(sender, "look_console.flash.instance_start", name="<b>web</b>")
    (name, value), options = sender.set_cookies[0]
    assert name == flash.COOKIE and options["httponly"] and options["max_age"] == flash.MAX_AGE
    assert "web" not in value  # encoded, signed
    reader = _Ctx({flash.COOKIE: value})
    assert flash.take(reader) == {"kind": "success",
                                  "text": "look_console.flash.instance_start:{'name': '<b>web</b>'}"}
    assert reader.set_cookies[0][1]["expires"] == 0  # cleared: shown once
    payload, _, signature = value.partition(".")
    for forged in (payload + "." + "0" * 32, payload[:-2] + "." + signature, "x", ""):
        assert flash.take(_Ctx({flash.COOKIE: forged})) is None
    assert flash.take(_Ctx()) is None
