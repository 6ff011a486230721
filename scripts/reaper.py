#!/usr/bin/env python3
"""Run a command as a "child subreaper" that reaps every orphan it inherits, until none is left.

    scripts/reaper.py libvirtd -d

Where PID 1 reaps nobody (containers, micro-VMs, a test session that made itself a subreaper
and only reaps at its end), a daemon's orphans stay zombies. libvirt suffers most: QEMU is
double-forked, and when a guest is destroyed libvirtd waits for a process that kill(pid, 0)
still finds ("Failed to terminate process ... with SIGKILL: Device or resource busy"), so
every destroy takes a minute and then fails. Started with setsid, this process becomes the
daemon's parent; orphans of the daemon (QEMU) come to it and are reaped at once. It exits when
its last descendant has exited, with the command's own exit status when that failed.
"""
import ctypes
import os
import sys

PR_SET_CHILD_SUBREAPER = 36


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: reaper.py COMMAND [ARG...]", file=sys.stderr)
        return 2
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    child = os.posix_spawnp(argv[0], argv, os.environ)
    status = 0
    while True:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            return status
        except KeyboardInterrupt:
            continue
        if pid == child:
            status = os.waitstatus_to_exitcode(wait_status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
