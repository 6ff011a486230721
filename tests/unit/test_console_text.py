"""What a console may show (services/console_text.py): secret-looking lines masked, also when they come in pieces."""
from __future__ import annotations

import pytest

from minicloud.services.console_text import ConsoleDecoder, ConsoleMask, mask_text, without_terminal_queries

HASH = "$6$rounds=4096$saltsalt$" + "Ab1/" * 20


@pytest.mark.parametrize("line, shown", [
    (f"passwd: {HASH}", "passwd: ********"),
    (f"  - hashed_passwd: '{HASH}'", "  - hashed_passwd: ********"),
    (f"root:{HASH}:19000:0:99999:7:::", "root:********:19000:0:99999:7:::"),
    ("password=hunter2-secret", "password=********"),
    ("Password: ", "Password: "),  # a prompt is no secret
    ("chpasswd: {expire: false}", "chpasswd: {expire: false}"),
    ("MINICLOUD-READY hostname=pc1", "MINICLOUD-READY hostname=pc1"),
])
def test_secret_looking_lines_are_masked(line, shown):
    assert mask_text(line + "\n") == shown + "\n"


def test_a_private_key_block_is_masked_line_by_line():
    text = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\nAAAB\n-----END OPENSSH PRIVATE KEY-----\nok\n"
    assert mask_text(text) == ("-----BEGIN OPENSSH PRIVATE KEY-----\n********\n********\n"
                               "-----END OPENSSH PRIVATE KEY-----\nok\n")


def test_a_secret_split_across_pieces_is_held_back_until_its_line_ends():
    mask = ConsoleMask(hold_seconds=3600)
    assert mask.feed("~ # ") == "~ # "  # an ordinary prompt goes at once
    assert mask.feed("\npasswd: $6$ab") == "\n"  # might become a secret: held
    assert mask.feed("cdefgh$ijklmnop\nnext") == "passwd: ********\nnext"


def test_a_quiet_unfinished_line_goes_after_the_pause_and_a_prompt_with_a_dollar_too():
    mask = ConsoleMask(hold_seconds=0)
    assert mask.feed("debian@pc1:~$ ") == "debian@pc1:~$ "  # held only while it may still grow


def test_the_decoder_counts_what_was_shown_so_a_resume_repeats_nothing_and_loses_nothing():
    decoder = ConsoleDecoder(offset=100)
    data = "é ok\npasswd: $6$ab".encode() + b"\xc3"
    text = decoder.feed(data, read_to=100 + len(data))
    assert text == "é ok\n"  # the secret-looking tail and half a character wait
    assert decoder.shown_to == 100 + len("é ok\n".encode())


def test_replayed_history_asks_the_terminal_nothing():
    history = b"~ # \x1b[6nls\r\n\x1b[1;32mok\x1b[0m \x1b[c\x1b]11;?\x07done"
    assert without_terminal_queries(history) == b"~ # ls\r\n\x1b[1;32mok\x1b[0m done"  # colours stay
