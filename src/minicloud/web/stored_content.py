"""How what users store is served: as a file, never as a page of the console's origin.

An object is whatever its uploader says it is: an HTML or SVG file served inline from the console's
origin would run its scripts there, with the visitor's session. So every object answer — the
logged-in download and the share link alike — carries:

- ``X-Content-Type-Options: nosniff``: the browser takes the declared type, nothing else;
- ``Content-Security-Policy: sandbox``: even a page that renders runs no script and has no origin
  (no cookies, no same-origin requests);
- ``Content-Disposition: attachment`` unless the type is one of ``INLINE_TYPES`` (raster images,
  PDF, plain text) and no download was asked for; HTML, SVG, XML and JavaScript are always files;
- ``Referrer-Policy: no-referrer``, so a link inside a shared document never leaks the share link.

Text is served with its charset: the one declared at upload, else what the first bytes are (UTF-8,
else EUC-KR for Korean files written on Windows), so a Korean ``.txt`` reads as Korean.

Operators usually serve share links from another origin (``storage.public_base_url``, e.g.
``https://files.example.org`` pointing at the same server): then not even a sandboxed page shares
a host with the console.
"""
from __future__ import annotations

import itertools
import re
from urllib.parse import quote

from werkzeug.http import dump_options_header, parse_options_header

INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp",
                          "application/pdf", "text/plain"})
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox",
                    "Referrer-Policy": "no-referrer"}
SNIFF_BYTES = 64 * 1024
_UNSAFE_FILENAME = re.compile(r'[^\x20-\x7e]|["\\]')


def content_disposition(key: str, inline: bool = False) -> str:
    """``attachment`` (or ``inline``) with an ASCII fallback name and the UTF-8 name as RFC 5987
    ``filename*`` (RFC 6266)."""
    name = key.rstrip("/").rsplit("/", 1)[-1] or "download"
    fallback = _UNSAFE_FILENAME.sub("_", name)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def text_charset(sample: bytes) -> str:
    """The charset ``sample`` (the first bytes of a text) is written in: utf-8, else euc-kr (as browsers
    name Windows' Korean code page), else utf-8 all the same."""
    for codec, name in (("utf-8", "utf-8"), ("cp949", "euc-kr")):
        for cut in range(4):  # the sample may end inside a character
            try:
                sample[:len(sample) - cut].decode(codec)
                return name
            except UnicodeDecodeError:
                continue
    return "utf-8"


def served_type(declared: str | None, sample: bytes | None = None) -> str:
    """The Content-Type to answer with: the declared one, a text type given its charset."""
    mimetype, options = parse_options_header(declared or "application/octet-stream")
    mimetype = mimetype.lower() or "application/octet-stream"
    if mimetype.startswith("text/") and "charset" not in {k.lower() for k in options}:
        options = dict(options, charset=text_charset(sample) if sample is not None else "utf-8")
    return dump_options_header(mimetype, options)


def object_headers(content_type: str, key: str, download: bool) -> dict[str, str]:
    """The headers an object answer carries besides its own (see the module docstring)."""
    mimetype = parse_options_header(content_type)[0].lower()
    inline = mimetype in INLINE_TYPES and not download
    return {**SECURITY_HEADERS, "Content-Disposition": content_disposition(key, inline)}


def first_chunk(body):
    """``(the first chunk, an iterator of every chunk)`` of a streamed body: the first read once."""
    chunks = iter(body)
    first = next(chunks, b"")
    return first[:SNIFF_BYTES], itertools.chain([first], chunks)


def share_url(ctx, path: str) -> str:
    """A share link's full URL: on ``storage.public_base_url`` when the operator set one, else on the
    origin the request came to."""
    base = (ctx.config.get("storage.public_base_url") or "").rstrip("/") or ctx.request.host_url.rstrip("/")
    return base + path
