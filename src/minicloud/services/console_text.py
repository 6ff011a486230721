"""What a serial console may show: secrets masked, line by line (a defence; the images avoid printing them).

A guest's console can carry what its seed held — the tiny test image prints its user-data, and a
cloud-config ``passwd:`` is a password hash — or what a student typed. Lines that look like a secret
lose the secret: a crypt(3) hash (``$6$…``, ``$y$…``, ``$2b$…``), the value of a ``password:``-like
key, a private key block's body. ``ConsoleMask`` does it for a stream that arrives in pieces: it only
lets a line go once it can tell, and holds back an unfinished line that might become a secret.
"""
from __future__ import annotations

import codecs
import re
import time

MASK = "********"
# crypt(3) hashes: $1$ $5$ $6$ (salt$hash), $2a/b/y$ (bcrypt), $y$ / $gy$ / $7$ (yescrypt, scrypt)
_HASH = re.compile(r"\$(?:1|2[abxy]?|5|6|7|y|gy)\$[./A-Za-z0-9$=+-]{8,}")
# key: value / key=value where the key names a secret (the value, not the prompt "Password: ", goes)
_KEYED = re.compile(r"((?<![A-Za-z0-9])(?:hashed_passwd|plain_text_passwd|passwd|password|passphrase|secret|token|api_key)"
                    r"[\"']?\s*[:=]\s*)(?![\s*]*$)(\S.*)$", re.IGNORECASE)
_KEY_BEGIN = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_KEY_END = re.compile(r"-----END [A-Z ]*PRIVATE KEY-----")
# an unfinished line that may still turn into a secret: hold it until its end (or a pause)
_SUSPECT = re.compile(r"\$|(?:passwd|password|passphrase|secret|token|api_key|-----BEGIN)", re.IGNORECASE)


# Questions a program asks the terminal (where is the cursor: ESC[6n, who are you: ESC[c, colours: OSC 10/11
# ;?) — a terminal answers them by typing. Replayed from the log they are history, not questions: a fresh
# terminal must not answer them into the guest's shell.
_TERMINAL_QUERIES = re.compile(rb"\x1b\[[0-9;?>=]*[cn]|\x1b\][0-9]+;\?(?:\x07|\x1b\\)")


def without_terminal_queries(history: bytes) -> bytes:
    """Console output replayed from the log, without the questions it asked its terminal back then."""
    return _TERMINAL_QUERIES.sub(b"", history)


def mask_line(line: str) -> str:
    line = _HASH.sub(MASK, line)
    return _KEYED.sub(lambda m: m.group(1) + MASK, line)


def mask_text(text: str) -> str:
    """Whole console text with every secret-looking line masked (the plain console, the API's tail)."""
    mask = ConsoleMask()
    return mask.feed(text, final=True)


class ConsoleMask:
    """Masks text that arrives in pieces; ``feed`` returns what may be shown now."""

    def __init__(self, hold_seconds: float = 0.5):
        self.hold_seconds = hold_seconds
        self._pending = ""
        self._held_since: float | None = None
        self._in_key = False

    def _line(self, line: str) -> str:
        if self._in_key:
            if _KEY_END.search(line):
                self._in_key = False
                return line
            return MASK + ("\r" if line.endswith("\r") else "")
        if _KEY_BEGIN.search(line) and not _KEY_END.search(line):
            self._in_key = True
            return line
        return mask_line(line)

    def feed(self, text: str, final: bool = False) -> str:
        """Complete lines of ``text`` (after what was held back) masked; an unfinished last line too,
        unless it might become a secret — then it waits for its end, or ``hold_seconds`` of quiet
        (``feed("")``), or ``final``."""
        text = self._pending + text
        *lines, tail = text.split("\n")
        out = [self._line(line) + "\n" for line in lines]
        now = time.monotonic()
        if lines or tail != self._pending:
            self._held_since = now
        if tail and (final or self._in_key is False and not _SUSPECT.search(tail)
                     or self._held_since is not None and now - self._held_since >= self.hold_seconds):
            out.append(self._line(tail) if not self._in_key else MASK)
            tail = ""
        self._pending = tail
        return "".join(out)

    @property
    def held_bytes(self) -> int:
        return len(self._pending.encode("utf-8"))


class ConsoleDecoder:
    """Raw console bytes -> masked text, keeping count of the bytes shown (the offset to resume from)."""

    def __init__(self, offset: int):
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._mask = ConsoleMask()
        self._read_to = offset

    def feed(self, data: bytes, read_to: int) -> str:
        self._read_to = read_to
        return self._mask.feed(self._decoder.decode(data))

    @property
    def shown_to(self) -> int:
        """The log offset up to which everything was shown (what is held back is sent again on resume)."""
        buffered = len(self._decoder.getstate()[0])
        return self._read_to - buffered - self._mask.held_bytes
