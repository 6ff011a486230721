"""The fixtures of the mcloud tests (tests/cli/served.py): a served minicloud, ``cli`` and ``signed_in``."""
from cli.served import cli, cli_cloud, signed_in  # noqa: F401 - fixtures

