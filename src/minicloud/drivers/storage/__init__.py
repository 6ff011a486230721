"""Object storage drivers: buckets and objects on OpenStack Swift (see base.py for the contract)."""
