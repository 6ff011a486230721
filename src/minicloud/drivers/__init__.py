"""Drivers: the only code that talks to infrastructure (libvirt, Kubernetes, Swift)."""
