"""Services hold the rules: ownership, roles, quotas, state machines, transactions.

``Services`` bundles one instance of each, built from the configuration and the
database and the drivers (``Backends``, the one place they are built); handlers and jobs
reach them as ``ctx.services.<name>``. Tests pass stand-in drivers through ``Backends`` and
may replace a service by assignment (see ``make_app(config, services=...)``).
"""
from __future__ import annotations

from dataclasses import dataclass

from minicloud.config import Config
from minicloud.db.pool import Database
from minicloud.services.backends import Backends


@dataclass
class Services:
    config: Config
    db: Database
    backends: Backends

    def __post_init__(self) -> None:
        from minicloud.services.accounts import Accounts
        from minicloud.services.api_keys import ApiKeys
        from minicloud.services.audit import Audit
        from minicloud.services.dashboard import Dashboard
        from minicloud.services.first_run import FirstRun
        from minicloud.services.health import Health
        from minicloud.services.operations import Operations
        from minicloud.services.projects import Projects
        from minicloud.services.resource_counts import ResourceCounts
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
        self.resource_counts = ResourceCounts(self.db)
        self.dashboard = Dashboard(self)
        self.first_run = FirstRun(self.db)
        self._events()
        self._network_state()
        self._security()
        self._networks()
        self._compute()
        self._storage()
        self._apps()

    def _events(self) -> None:
        """Change events (LISTEN/NOTIFY) for the live console pages and GET /api/v1/events."""
        from minicloud.services.events import Events

        self.events = Events(self.db, self.config)

    def _network_state(self) -> None:
        """The host's desired network state, and the one way a change reaches the host."""
        from minicloud.services.network_state import NetworkState

        self.network_state = NetworkState(self.db, self.config, self.backends.network)
        self.health.register("network", self.network_state.health)

    def _security(self) -> None:
        """Security groups and network ACLs (the rules the host enforces on NICs and subnets)."""
        from minicloud.services.network_acls import NetworkAcls
        from minicloud.services.security_groups import SecurityGroups

        self.security_groups = SecurityGroups(self.db, self.config, self)
        self.network_acls = NetworkAcls(self.db, self.config, self)

    def _networks(self) -> None:
        """VPCs with their route tables and gateways, subnets and public IPs."""
        from minicloud.services.public_ips import PublicIps
        from minicloud.services.subnets import Subnets
        from minicloud.services.vpcs import Vpcs

        self.vpcs = Vpcs(self.db, self.config, self)
        self.subnets = Subnets(self.db, self.config, self)
        self.public_ips = PublicIps(self.db, self.config, self)
        self.dashboard.add_card("networks", lambda principal, project: self.vpcs.summary(project.id))

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
        self.hosts = Hosts(self.db, self.config, self.backends.compute)
        self.networking = Networking(self.config)
        self.quotas = Quotas(self.db, self.projects)
        self.instances = Instances(self.db, self.config, self)
        self.dashboard.add_card("instances", lambda principal, project: self.instances.counts(project.id))
        self.health.register("libvirt", self.hosts.default_host_health)

    def _storage(self) -> None:
        """Object storage: buckets on Swift."""
        from minicloud.services.storage import Storage

        self.storage = Storage(self.db, self.config, self.backends.storage, self.quotas)
        self.health.register("swift", self.storage.health)
        self.dashboard.add_card("storage", lambda principal, project: self.storage.summary(project.id))

    def _apps(self) -> None:
        """Apps on Kubernetes."""
        from minicloud.services.apps import Apps

        self.apps = Apps(self.db, self.config, self.backends.containers, self.quotas)
        self.health.register("kubernetes", self.apps.health)
        self.dashboard.add_card("apps", lambda principal, project: self.apps.summary(project.id))

    @classmethod
    def from_config(cls, config: Config, backends: Backends | None = None) -> "Services":
        """Services on a new database pool, over ``backends`` (the real drivers unless given)."""
        db = Database(config.database_url, config.get("database.pool_min"), config.get("database.pool_max"))
        return cls(config, db, backends or Backends.from_config(config))

    def close(self) -> None:
        self.db.close()
