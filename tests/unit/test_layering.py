"""Imports go one way, as docs/architecture.md draws the layers (top to bottom):

    app (app.py, routes.py, wsgi.py, cli.py)
    handlers (api/, pages/)        jobs (job kinds, worker, reconciler)
    web (the request/response toolkit)
    services (the rules; they own every resource's state)
    drivers (libvirt, Swift, Kubernetes)
    base (config, errors, i18n, metrics, db: pool, migrations, the job queue)

Every import in src/minicloud is checked, including the ones inside functions and under
TYPE_CHECKING, so a student's new module that reaches upward fails here with the line named.
"""
from __future__ import annotations

import ast
from pathlib import Path

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


def imports_of(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from minicloud import config" imports the module minicloud.config
            names = [f"{node.module}.{alias.name}" for alias in node.names] if node.module == "minicloud" \
                else [node.module]
            found += [(node.lineno, name) for name in names]
    return found


def test_every_module_belongs_to_a_layer():
    unplaced = [module_name(p) for p in SRC.rglob("*.py")
                if module_name(p) != "minicloud" and layer_of(module_name(p)) is None]
    assert unplaced == [], f"add these modules to a layer in LAYERS (and docs/architecture.md): {unplaced}"


def test_imports_only_go_downward():
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        importer = module_name(path)
        if importer == "minicloud":
            continue
        mine = layer_of(importer)
        for line, imported in imports_of(path):
            theirs = layer_of(imported)
            if theirs is not None and theirs not in MAY_IMPORT[mine]:
                wrong.append(f"{path.relative_to(SRC.parent)}:{line}: {mine} {importer} imports {theirs} {imported}")
    assert wrong == [], "imports against the layering of docs/architecture.md:\n" + "\n".join(wrong)


def test_the_check_sees_an_upward_import(tmp_path):
    # The checker itself: a service importing the web toolkit is reported.
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from minicloud.web.context import RequestContext\n")
    assert imports_of(module) == [(2, "minicloud.web.context")]
    assert layer_of("minicloud.web.context") not in MAY_IMPORT["services"]
