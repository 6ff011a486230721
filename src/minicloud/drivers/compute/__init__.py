"""Compute drivers: turn an InstanceSpec into a running guest (see base.py for the contract)."""
