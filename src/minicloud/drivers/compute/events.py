"""libvirt lifecycle events: a callback whenever one of our domains starts, stops, crashes or vanishes.

libvirt delivers events through an event loop the client must run: one daemon
thread per process runs ``virEventRunDefaultImpl`` (registered before any
connection is opened). Each ``LifecycleWatcher`` keeps a read-only connection to
one host and calls ``on_event(domain_name, event)`` for domains named with
DOMAIN_PREFIX. A dropped connection is re-opened on the next ``ensure()``.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

import libvirt

from minicloud.drivers.compute.base import DOMAIN_PREFIX

log = logging.getLogger("minicloud.compute.events")

EVENT_NAMES = {
    libvirt.VIR_DOMAIN_EVENT_DEFINED: "defined",
    libvirt.VIR_DOMAIN_EVENT_UNDEFINED: "undefined",
    libvirt.VIR_DOMAIN_EVENT_STARTED: "started",
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: "suspended",
    libvirt.VIR_DOMAIN_EVENT_RESUMED: "resumed",
    libvirt.VIR_DOMAIN_EVENT_STOPPED: "stopped",
    libvirt.VIR_DOMAIN_EVENT_SHUTDOWN: "shutdown",
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: "pmsuspended",
    libvirt.VIR_DOMAIN_EVENT_CRASHED: "crashed",
}
_loop_lock = threading.Lock()
_loop_started = False


def _ensure_event_loop() -> None:
    """Start the process-wide libvirt event loop thread (once)."""
    global _loop_started
    with _loop_lock:
        if _loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=run, name="libvirt-events", daemon=True).start()
        _loop_started = True


class LifecycleWatcher:
    def __init__(self, uri: str, on_event: Callable[[str, str], None]):
        self.uri = uri
        self.on_event = on_event
        self._conn: libvirt.virConnect | None = None
        self._callback_id: int | None = None
        self._lock = threading.Lock()

    def _deliver(self, conn, domain, event, detail, opaque) -> None:
        name = domain.name()
        if name.startswith(DOMAIN_PREFIX):
            try:
                self.on_event(name, EVENT_NAMES.get(event, str(event)))
            except Exception:  # noqa: BLE001 - never let a callback kill the event loop
                log.exception("lifecycle callback failed for %s", name)

    def ensure(self) -> bool:
        """Afterwards the watcher is subscribed on a live connection; False when the host is unreachable
        (never raises). Repeat: safe (a live subscription is kept, a dropped one replaced)."""
        _ensure_event_loop()
        with self._lock:
            if self._conn is not None:
                try:
                    if self._conn.isAlive():
                        return True
                except libvirt.libvirtError:
                    pass
                self._conn = None
            try:
                conn = libvirt.openReadOnly(self.uri)
                if not self.uri.startswith("test:"):  # the test driver has no keepalive
                    conn.setKeepAlive(5, 3)
                self._callback_id = conn.domainEventRegisterAny(
                    None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._deliver, None)
            except libvirt.libvirtError as exc:
                log.warning("cannot watch %s: %s", self.uri, exc)
                return False
            self._conn = conn
            return True

    def close(self) -> None:
        """Afterwards no more events are delivered and the connection is closed. Repeat: safe."""
        with self._lock:
            if self._conn is None:
                return
            try:
                if self._callback_id is not None:
                    self._conn.domainEventDeregisterAny(self._callback_id)
                self._conn.close()
            except libvirt.libvirtError:
                pass
            self._conn = None
