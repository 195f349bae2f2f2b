"""How the code is laid out, in figures: the longest functions, and imports that climb the layers.

    python tools/codemap.py [SRC]           # default: src/weavewave of this checkout

Layers, lowest first (a module's layer is read from its name, so the map works before and after modules
move into packages):

    base < music < brief < perceive < bridge < generators < api < faces

An import from a lower layer of a higher one is an *upward edge* (``perceive/audio.py`` importing
``bridge`` was one). Lazy imports inside functions count too: they are edges all the same.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

# Layer of a module, by the first part of its name under ``weavewave`` (or the second, for packages
# named after their job). Lowest first.
LAYERS = {
    "base": ("errors", "_deps", "jitcache", "procs", "textfile", "io", "dsp"),
    "music": (
        "music",
        "theory",
        "instruments",
        "styles",
        "form",
        "melodic",
        "arrangement",
        "analyze",
        "reharmonize",
        "audio_io",
    ),  # fmt: skip
    "brief": ("brief",),
    "perceive": ("perceive", "neural", "models"),
    "bridge": ("bridge", "scoring", "refine", "refine_llm"),
    "generators": ("generators", "render", "export", "mux"),
    "api": ("api", "request", "evaluate"),
    "faces": ("cli", "serve", "__main__"),
}
ORDER = list(LAYERS)


def layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "weavewave" or len(parts) < 2:
        return None
    for name, heads in LAYERS.items():
        if parts[1] in heads:
            return name
    return None


def module_name(path: Path, src: Path) -> str:
    rel = path.relative_to(src.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(tree: ast.AST, module: str) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = module.split(".")[: -node.level]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {t for t in found if t.startswith("weavewave")}


def main() -> int:
    src = Path(
        sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "src" / "weavewave"
    )
    functions: list[tuple[int, str]] = []
    upward: list[tuple[str, str]] = []
    unplaced: Counter[str] = Counter()
    files = sorted(src.rglob("*.py"))
    for path in files:
        module = module_name(path, src)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                functions.append((length, f"{module}.{node.name}"))
        mine = layer(module)
        if mine is None:
            unplaced[module] += 1
            continue
        for target in imports(tree, module):
            theirs = layer(target)
            if theirs is not None and ORDER.index(theirs) > ORDER.index(mine):
                upward.append((module, target))
    print(f"{len(files)} modules, {sum(len(p.read_text().splitlines()) for p in files)} lines")
    print("\nlongest functions (lines):")
    for length, name in sorted(functions, reverse=True)[:15]:
        print(f"  {length:4d}  {name}")
    print(f"\nupward imports ({len(upward)}): a lower layer importing a higher one")
    for a, b in sorted(upward):
        print(f"  {a} ({layer(a)}) -> {b} ({layer(b)})")
    if unplaced:
        print(f"\nmodules in no layer: {', '.join(sorted(unplaced))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
