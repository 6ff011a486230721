"""Services hold the rules: ownership, roles, quotas, state machines, transactions.

``Services`` bundles one instance of each, built from the configuration and the
database; handlers reach them as ``ctx.services.<name>`` and tests may pass
stand-ins for any of them (see ``make_app(config, services=...)``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minicloud.config import Config
from minicloud.db.pool import Database


@dataclass
class Services:
    config: Config
    db: Database
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from minicloud.services.accounts import Accounts
        from minicloud.services.api_keys import ApiKeys
        from minicloud.services.audit import Audit
        from minicloud.services.dashboard import Dashboard
        from minicloud.services.health import Health
        from minicloud.services.operations import Operations
        from minicloud.services.projects import Projects
        from minicloud.services.sessions import Sessions
        from minicloud.services.user_quotas import UserQuotas

        self.user_quotas = UserQuotas(self.db, self.config)
        self.projects = Projects(self.db, self.config, self.user_quotas)
        self.accounts = Accounts(self.db, self.config, self.projects)
        self.sessions = Sessions(self.db, self.config)
        self.api_keys = ApiKeys(self.db)
        self.audit = Audit(self.db)
        self.operations = Operations(self.db)
        self.health = Health(self.db)
        self.dashboard = Dashboard(self)
        self._compute()
        self._storage()
        self._apps()
        for name, service in self.extra.items():
            setattr(self, name, service)

    def _compute(self) -> None:
        """Mini PCs: templates, key pairs, images, hosts (+ placement), networking, quotas, instances."""
        from minicloud.services.hosts import Hosts
        from minicloud.services.images import Images
        from minicloud.services.instances import Instances
        from minicloud.services.keypairs import KeyPairs
        from minicloud.services.networking import Networking
        from minicloud.services.quotas import Quotas
        from minicloud.services.templates import Templates

        self.templates = Templates(self.db, self.config)
        self.keypairs = KeyPairs(self.db)
        self.images = Images(self.db, self.config)
        self.hosts = Hosts(self.db, self.config, self.extra.pop("driver_factory", None))
        self.networking = Networking(self.config)
        self.quotas = Quotas(self.db, self.projects)
        self.instances = Instances(self.db, self.config, self)
        self.dashboard.add_card("instances", lambda principal, project: self.instances.counts(project.id))
        self.health.register("libvirt", self.hosts.default_host_health)

    def _storage(self) -> None:
        """Object storage: buckets on Swift. Building the driver does not contact Swift."""
        from minicloud.services.storage import Storage

        driver = self.extra.pop("storage_driver", None)
        if driver is None:
            from minicloud.drivers.storage.swift import SwiftDriver  # imported here: tests may inject their own
            driver = SwiftDriver.from_config(self.config)
        self.storage = Storage(self.db, self.config, driver, self.quotas)
        self.health.register("swift", self.storage.health)
        self.dashboard.add_card("storage", lambda principal, project: self.storage.summary(project.id))

    def _apps(self) -> None:
        """Apps on Kubernetes. Building the driver does not contact the cluster."""
        from minicloud.services.apps import Apps

        driver = self.extra.pop("container_driver", None)
        if driver is None:
            from minicloud.drivers.containers.kubernetes import KubernetesDriver  # tests may inject their own
            driver = KubernetesDriver.from_config(self.config)
        self.apps = Apps(self.db, self.config, driver, self.quotas)
        self.health.register("kubernetes", self.apps.health)
        self.dashboard.add_card("apps", lambda principal, project: self.apps.summary(project.id))

    @classmethod
    def from_config(cls, config: Config, **extra: Any) -> "Services":
        db = Database(config.database_url, config.get("database.pool_min"), config.get("database.pool_max"))
        return cls(config, db, extra)

    def close(self) -> None:
        self.db.close()
