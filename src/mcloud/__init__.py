"""mcloud: the command-line client for minicloud's users.

It talks only to the public HTTP API (/api/v1) of a minicloud server, like any other client:
it never imports minicloud's services, database or drivers (tests/cli/test_imports.py keeps it so).
"""
