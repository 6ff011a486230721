"""Container drivers: apps on Kubernetes (see base.py for the contract)."""
