"""Services speak no language: they raise errors and return statuses as catalog keys with
parameters, and the web layer (API and pages) says them in Korean or English.

So no function in src/minicloud/services takes a ``lang`` parameter, calls ``translate`` or
imports the message catalogs (``minicloud.i18n``); the line is named when one does.
"""
from __future__ import annotations

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "src" / "minicloud" / "services"


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[ast.arg]:
    args = node.args
    return [*args.posonlyargs, *args.args, *args.kwonlyargs, *filter(None, (args.vararg, args.kwarg))]


def _calls_translate(node: ast.Call) -> bool:
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "translate") or \
        (isinstance(func, ast.Attribute) and func.attr == "translate" and isinstance(func.value, ast.Name)
         and func.value.id == "i18n")


def _imports_i18n(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.module == "minicloud.i18n" or (node.module == "minicloud"
                                                   and any(alias.name == "i18n" for alias in node.names))
    return any(alias.name == "minicloud.i18n" for alias in node.names)


def language_in(source: str, filename: str) -> list[str]:
    """Each place the module's code speaks a language, as "file:line: what", in the order of the lines."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            name = getattr(node, "name", "lambda")
            found += [(arg.lineno, f"{name}() takes lang") for arg in _parameters(node) if arg.arg == "lang"]
        elif isinstance(node, ast.Call) and _calls_translate(node):
            found.append((node.lineno, "calls translate"))
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and _imports_i18n(node):
            found.append((node.lineno, "imports minicloud.i18n"))
    return [f"{filename}:{line}: {what}" for line, what in sorted(found)]


def test_no_service_takes_lang_or_translates():
    found = []
    for path in sorted(SERVICES.rglob("*.py")):
        found += language_in(path.read_text(), str(path.relative_to(SERVICES.parent)))
    assert not found, "services speak no language (raise keyed errors, return keys + params):\n" + "\n".join(found)


def test_the_check_sees_each_way_of_speaking_a_language():
    source = ("from minicloud.i18n import translate\n"
              "def create(self, body, lang='en'):\n"
              "    return translate(lang, 'x')\n"
              "async def view(row, *, lang):\n"
              "    return i18n.translate(lang, 'y')\n"
              "def quiet(row):\n"
              "    return row['name'].translate({})\n")
    assert language_in(source, "s.py") == [
        "s.py:1: imports minicloud.i18n", "s.py:2: create() takes lang", "s.py:3: calls translate",
        "s.py:4: view() takes lang", "s.py:5: calls translate"]
