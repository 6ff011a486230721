"""The one place the drivers are built: what the services talk to libvirt, Swift and Kubernetes through.

``Backends.from_config(config)`` builds the real ones — a ``LibvirtDriver`` per host URI with the
``[compute]`` pool and console settings, ``SwiftDriver.from_config``, ``KubernetesDriver.from_config``,
``LinuxNetworkDriver.from_config``; none of them
contacts its backend before it is used. Tests pass their stand-ins for any of the four
(``Backends.from_config(config, storage=StandinSwift())``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from minicloud.config import Config
from minicloud.drivers.compute.base import ComputeDriver
from minicloud.drivers.containers.base import ContainerDriver
from minicloud.drivers.network.base import NetworkDriver
from minicloud.drivers.storage.base import StorageDriver

ComputeFactory = Callable[[str], ComputeDriver]  # a host's libvirt URI -> the driver for that host


@dataclass(frozen=True)
class Backends:
    compute: ComputeFactory
    storage: StorageDriver
    containers: ContainerDriver
    network: NetworkDriver

    @classmethod
    def from_config(cls, config: Config, *, compute: ComputeFactory | None = None,
                    storage: StorageDriver | None = None, containers: ContainerDriver | None = None,
                    network: NetworkDriver | None = None) -> "Backends":
        """The real drivers from the settings, except the ones given."""
        return cls(compute=compute if compute is not None else libvirt_hosts(config),
                   storage=storage if storage is not None else _swift(config),
                   containers=containers if containers is not None else _kubernetes(config),
                   network=network if network is not None else _linux_network(config))


def libvirt_hosts(config: Config) -> ComputeFactory:
    """A ``LibvirtDriver`` for a host URI, with the storage pool and console log settings of ``[compute]``."""
    from minicloud.drivers.compute.libvirt import LibvirtDriver  # imported when the real drivers are built

    options = libvirt_options(config)
    return lambda uri: LibvirtDriver(uri, **options)


def libvirt_options(config: Config) -> dict:
    """The keyword arguments of ``LibvirtDriver`` besides the URI, from ``[compute]``."""
    return {"pool_name": config.get("compute.pool_name"), "pool_path": config.get("compute.pool_path"),
            "log_dir": config.get("compute.console_log_dir")}


def _swift(config: Config) -> StorageDriver:
    from minicloud.drivers.storage.swift import SwiftDriver

    return SwiftDriver.from_config(config)


def _kubernetes(config: Config) -> ContainerDriver:
    from minicloud.drivers.containers.kubernetes import KubernetesDriver

    return KubernetesDriver.from_config(config)


def _linux_network(config: Config) -> NetworkDriver:
    from minicloud.drivers.network.linux import LinuxNetworkDriver

    return LinuxNetworkDriver.from_config(config)
