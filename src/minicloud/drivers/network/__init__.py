"""Network drivers: the host's bridges, router namespaces, dnsmasq and nftables (see ``base.py``)."""
