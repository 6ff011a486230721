"""Running ``nft`` (and ``conntrack``): check a ruleset, apply it in one transaction, list, probe.

Every command runs with a timeout; ``netns`` runs it inside that network namespace (``ip netns exec``).
A ruleset text from ``rulesets`` starts with ``table X {}`` + ``delete table X`` and then the whole
definition, so one ``nft -f`` replaces the table atomically (the kernel applies all of it or none of
it) and applying the same text again is safe.

Errors: ``NetworkUnavailable`` when the command is missing; ``NetworkError`` with nft's own message
otherwise (a timeout included).
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path

from minicloud.drivers.network.base import NetworkError, NetworkUnavailable

TIMEOUT = 20.0               # seconds for one nft or conntrack command (a 1,000-NIC ruleset loads in well under 1 s)
BRIDGE_NF_CALL = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_FAMILIES = ("inet", "ip", "ip6", "bridge", "arp", "netdev")


def _command(args: list[str], netns: str | None) -> list[str]:
    if netns is not None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", netns):
            raise NetworkError(f"not a namespace name: {netns!r}")
        return ["ip", "netns", "exec", netns, *args]
    return args


def run(args: list[str], *, netns: str | None = None, input: str | None = None,
        timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """Run one command (never through a shell); the finished process, whatever its exit status.

    Raises NetworkUnavailable when the program is missing, NetworkError on a timeout."""
    argv = _command(args, netns)
    if shutil.which(argv[0]) is None:
        raise NetworkUnavailable(f"{argv[0]} is not installed on this host")
    try:
        return subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise NetworkError(f"{' '.join(argv[:6])} did not finish within {timeout:g} s") from exc
    except OSError as exc:
        raise NetworkUnavailable(f"could not run {argv[0]}: {exc}") from exc


def _nft(args: list[str], *, netns: str | None = None, input: str | None = None, what: str) -> str:
    done = run(["nft", *args], netns=netns, input=input)
    if done.returncode != 0:
        where = f" in namespace {netns}" if netns else ""
        raise NetworkError(f"nft {what}{where} failed: {_message(done)}")
    return done.stdout


def _message(done: subprocess.CompletedProcess) -> str:
    text = (done.stderr or done.stdout or f"exit status {done.returncode}").strip()
    return text[:4000]


def check(text: str, netns: str | None = None) -> None:
    """Check a ruleset with ``nft -c -f -`` (nothing is applied).

    Afterwards: nothing changed. Raises NetworkError with nft's message (the line and what is wrong)
    when the kernel would refuse it. Repeat: safe."""
    _nft(["-c", "-f", "-"], netns=netns, input=text, what="-c (check)")


def apply(text: str, netns: str | None = None) -> None:
    """Load a ruleset with one ``nft -f -``: one transaction, all of it or nothing.

    Afterwards: the tables the text defines are exactly as it says (a text from ``rulesets`` deletes
    and re-creates its table). Established connections keep their conntrack state. Raises
    NetworkError (the host keeps the rules it had). Repeat: safe."""
    _nft(["-f", "-"], netns=netns, input=text, what="-f (apply)")


def _table_args(family: str, name: str) -> list[str]:
    if family not in _FAMILIES:
        raise NetworkError(f"not an nftables family: {family!r}")
    if not _NAME.fullmatch(name):
        raise NetworkError(f"not a table name: {name!r}")
    return [family, name]


def list_table(family: str, name: str, netns: str | None = None) -> str:
    """The table as the kernel has it (``nft list table``), with its rules' counters; "" when it is absent.

    Afterwards: nothing changed. Raises NetworkError on any other failure. Repeat: safe."""
    done = run(["nft", "list", "table", *_table_args(family, name)], netns=netns)
    if done.returncode != 0:
        if _absent(done):
            return ""
        raise NetworkError(f"nft list table {family} {name} failed: {_message(done)}")
    return done.stdout


def table_exists(family: str, name: str, netns: str | None = None) -> bool:
    """Whether the table is loaded (in ``netns``)."""
    return bool(list_table(family, name, netns))


def delete_table(family: str, name: str, netns: str | None = None) -> bool:
    """Remove one table; True when it was there.

    Afterwards: the table is gone (absent already is fine). Raises NetworkError on any other failure.
    Repeat: safe."""
    done = run(["nft", "delete", "table", *_table_args(family, name)], netns=netns)
    if done.returncode != 0:
        if _absent(done):
            return False
        raise NetworkError(f"nft delete table {family} {name} failed: {_message(done)}")
    return True


def _absent(done: subprocess.CompletedProcess) -> bool:
    return "No such file or directory" in done.stderr or "does not exist" in done.stderr


def list_tables(netns: str | None = None) -> list[tuple[str, str]]:
    """Every table loaded (in ``netns``): (family, name) pairs, in nft's order."""
    out = _nft(["list", "tables"], netns=netns, what="list tables")
    tables = []
    for line in out.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "table":
            tables.append((words[1], words[2]))
    return tables


def flush_conntrack(ip: str, netns: str | None = None, zone: int | None = None) -> int:
    """Forget the tracked flows from or to ``ip`` (``conntrack -D``), so a flow that a removed rule no
    longer allows is judged again by the rules at its next packet (and dropped). The number of flows
    removed.

    Afterwards: no conntrack entry (in ``zone`` when given) has ``ip`` as its original source or
    destination. Raises NetworkUnavailable without ``conntrack``, NetworkError on a failure.
    Repeat: safe (nothing left: 0)."""
    removed = 0
    for side in ("--orig-src", "--orig-dst"):
        args = ["conntrack", "-D", side, ip]
        if zone is not None:
            args += ["--zone", str(int(zone))]
        done = run(args, netns=netns)
        match = re.search(r"(\d+) flow entries have been deleted", done.stderr + done.stdout)
        if match:
            removed += int(match.group(1))
        elif done.returncode != 0:
            raise NetworkError(f"conntrack -D {side} {ip} failed: {_message(done)}")
    return removed


_BRIDGE_CT_PROBE = """table bridge {name} {{
\tchain probe {{
\t\ttype filter hook forward priority 0; policy accept;
\t\tct state established,related accept
\t}}
}}
"""


def probe() -> dict:
    """What this host offers, detected now; nothing is applied.

    ``nft``: the command is installed; ``root``: we may change the host's network; ``bridge_conntrack``:
    ``ct state`` is accepted in a bridge-family table (``nft -c`` on a throwaway table);
    ``br_netfilter``: bridged IPv4 can reach the inet family's hooks (the module is loaded);
    ``bridge_nf_call_iptables``: and it is switched on; ``reason``: what is missing, in words.
    Raises nothing. Repeat: safe."""
    found = {"nft": shutil.which("nft") is not None, "conntrack": shutil.which("conntrack") is not None,
             "root": os.geteuid() == 0, "bridge_conntrack": False, "br_netfilter": BRIDGE_NF_CALL.exists(),
             "bridge_nf_call_iptables": False, "reason": ""}
    if found["br_netfilter"]:
        try:
            found["bridge_nf_call_iptables"] = BRIDGE_NF_CALL.read_text().strip() == "1"
        except OSError:
            pass
    reasons = []
    if not found["nft"]:
        reasons.append("nft is not installed")
    elif found["root"]:
        try:
            check(_BRIDGE_CT_PROBE.format(name="mc_probe_" + secrets.token_hex(4)))
            found["bridge_conntrack"] = True
        except NetworkError:
            found["bridge_conntrack"] = False
    if not found["root"]:
        reasons.append("not running as root")
    if not found["br_netfilter"]:
        reasons.append("the br_netfilter module is not loaded")
    found["reason"] = "; ".join(reasons)
    return found
