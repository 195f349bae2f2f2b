"""No module reaches into another's private names: what one module uses of another is public there."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "weavewave"
# Private modules meant to be shared inside the package (the leading underscore keeps them off the API).
SHARED_PRIVATE_MODULES = {"_deps"}


def _private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    modules: dict[str, str] = {}  # local name -> weavewave module it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("weavewave"):
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                if private and alias.name not in SHARED_PRIVATE_MODULES:
                    found.append(f"{path.name}:{node.lineno} from {node.module} import {alias.name}")
                modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("weavewave"):
                    modules[alias.asname or alias.name.split(".")[0]] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_no_private_imports_across_modules():
    offenders = [use for path in sorted(SRC.rglob("*.py")) for use in _private_uses(path)]
    assert offenders == []
