"""Imports go one way, as docs/architecture.md draws the layers (top to bottom):

    app (app.py, routes.py, wsgi.py, cli.py)
    handlers (api/, pages/)        jobs (job kinds, worker, reconciler)
    web (the request/response toolkit)
    services (the rules; they own every resource's state)
    drivers (libvirt, Swift, Kubernetes)
    base (config, errors, i18n, metrics, db: pool, migrations, the job queue)

Every import in src/minicloud is checked, including the ones inside functions and under
TYPE_CHECKING, relative ones (resolved against the module's own package, as Python does) and
``importlib.import_module`` / ``__import__`` of a name spelled as a constant, so a student's new
module that reaches upward fails here with the line named. (A name computed at run time, such as
the extra job modules of the worker's setting, cannot be read from the source.)
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "minicloud"

LAYERS = (  # (module prefix, layer): the first match wins
    ("minicloud.app", "app"), ("minicloud.routes", "app"), ("minicloud.wsgi", "app"), ("minicloud.cli", "app"),
    ("minicloud.handlers", "handlers"), ("minicloud.jobs", "jobs"), ("minicloud.web", "web"),
    ("minicloud.services", "services"), ("minicloud.drivers", "drivers"),
    ("minicloud.db", "db"), ("minicloud.config", "base"), ("minicloud.errors", "base"), ("minicloud.i18n", "base"),
    ("minicloud.metrics", "base"),
)
MAY_IMPORT = {
    "app": {"app", "handlers", "jobs", "web", "services", "drivers", "db", "base"},
    "handlers": {"handlers", "web", "services", "db", "base"},
    "jobs": {"jobs", "services", "drivers", "db", "base"},
    "web": {"web", "services", "base"},
    "services": {"services", "drivers", "db", "base"},
    "drivers": {"drivers", "base"},
    "db": {"db", "base"},
    "base": {"base"},
}


def layer_of(module: str) -> str | None:
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    """The package a module's relative imports start from (its ``__package__``)."""
    module = module_name(path)
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def absolute(name: str, level: int, package: str) -> str:
    """``name`` as imported ``level`` dots deep from ``package`` ("from ..x import y" has level 2)."""
    if level == 0:
        return name
    parts = package.split(".")
    return ".".join(parts[:len(parts) - level + 1] + ([name] if name else []))


def _dynamic_import(node: ast.Call, package: str) -> str | None:
    """The module a call ``importlib.import_module("...")`` or ``__import__("...")`` names, when it is
    spelled as a constant (a relative one against ``package=__package__`` or a constant package too)."""
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if called not in ("import_module", "__import__") or not node.args:
        return None
    name = node.args[0]
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        return None
    relative = name.value.lstrip(".")
    level = len(name.value) - len(relative)
    if level and called == "import_module":
        anchor = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "package"),
                                                               None)
        if isinstance(anchor, ast.Constant) and isinstance(anchor.value, str):
            package = anchor.value
        elif not (isinstance(anchor, ast.Name) and anchor.id == "__package__"):
            return None
    return absolute(relative, level, package)


def imports_in(source: str, package: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """(line, module) of every import in ``source``: import statements anywhere (in functions, under
    TYPE_CHECKING), relative ones resolved against ``package``, and constant-named dynamic imports."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = absolute(node.module or "", node.level, package)
            # "from minicloud import config" (or "from ... import config") imports the module minicloud.config
            names = [f"{base}.{alias.name}" for alias in node.names] if base == "minicloud" else [base]
            found += [(node.lineno, name) for name in names]
        elif isinstance(node, ast.Call) and (imported := _dynamic_import(node, package)):
            found.append((node.lineno, imported))
    return sorted(found)


def test_every_module_belongs_to_a_layer():
    unplaced = [module_name(p) for p in SRC.rglob("*.py")
                if module_name(p) != "minicloud" and layer_of(module_name(p)) is None]
    assert unplaced == [], f"add these modules to a layer in LAYERS (and docs/architecture.md): {unplaced}"


def wrong_imports(path: Path, importer: str, source: str, package: str) -> list[str]:
    """One line per import in ``source`` (module ``importer``) that goes up or sideways."""
    mine = layer_of(importer)
    return [f"{path}:{line}: {mine} {importer} imports {theirs} {imported}"
            for line, imported in imports_in(source, package, str(path))
            if (theirs := layer_of(imported)) is not None and theirs not in MAY_IMPORT[mine]]


def test_imports_only_go_downward():
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        if module_name(path) != "minicloud":
            wrong += wrong_imports(path.relative_to(SRC.parent), module_name(path), path.read_text(),
                                   package_of(path))
    assert wrong == [], "imports against the layering of docs/architecture.md:\n" + "\n".join(wrong)


@pytest.mark.parametrize("source, imported", [
    ("from ...drivers.storage import swift\n", "minicloud.drivers.storage"),
    ("from ... import drivers\n", "minicloud.drivers"),
    ("def f():\n    from minicloud.drivers.compute.libvirt import LibvirtDriver\n",
     "minicloud.drivers.compute.libvirt"),
    ("from minicloud import config, drivers\n", "minicloud.drivers"),
    ("import minicloud.drivers.containers.kubernetes as k8s\n", "minicloud.drivers.containers.kubernetes"),
    ("import importlib\nlibvirt = importlib.import_module('minicloud.drivers.compute.libvirt')\n",
     "minicloud.drivers.compute.libvirt"),
    ("from importlib import import_module\nswift = import_module('...drivers.storage', __package__)\n",
     "minicloud.drivers.storage"),
    ("from importlib import import_module\nswift = import_module('.swift', package='minicloud.drivers.storage')\n",
     "minicloud.drivers.storage.swift"),
    ("drivers = __import__('minicloud.drivers')\n", "minicloud.drivers"),
], ids=["relative", "relative-package", "in-a-function", "from-minicloud", "import-as", "importlib",
        "importlib-relative", "importlib-package", "dunder-import"])
def test_the_check_sees_a_handler_importing_a_driver_however_it_is_spelled(source, imported):
    line = source.count("\n")
    assert wrong_imports(Path("handlers/api/bad.py"), "minicloud.handlers.api.bad", source, "minicloud.handlers.api") \
        == [f"handlers/api/bad.py:{line}: handlers minicloud.handlers.api.bad imports drivers {imported}"]


def test_the_check_resolves_relative_imports_against_the_modules_own_package():
    # The same spelling is fine one package over: drivers/compute's "..storage" is a driver too.
    source = "from ..storage import base\nfrom . import seed\nfrom ...errors import NotFound\n" \
             "from importlib import import_module\nimport_module(name)\n"
    assert imports_in(source, "minicloud.drivers.compute") == [
        (1, "minicloud.drivers.storage"), (2, "minicloud.drivers.compute"), (3, "minicloud.errors"), (4, "importlib")]
    assert wrong_imports(Path("drivers/compute/x.py"), "minicloud.drivers.compute.x", source,
                         "minicloud.drivers.compute") == []
