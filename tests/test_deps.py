"""One place for optional imports: every missing extra is one line naming the right ``pip install``."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from weavewave import _deps
from weavewave.errors import BadInputError, MissingDependencyError

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "weavewave"


def test_require_returns_the_module():
    import json

    assert _deps.require("json", "neural", "reading") is json


def test_a_missing_module_is_a_one_line_bad_input_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # what a light install looks like to an import
    with pytest.raises(MissingDependencyError) as info:
        _deps.require("av", "video", "video")
    message = str(info.value)
    assert isinstance(info.value, BadInputError) and isinstance(info.value, ImportError)
    assert message == "video needs av (PyAV), which is not installed: pip install 'weavewave[video]'"
    assert not _deps.available("av")


def test_a_missing_dependency_of_the_module_is_named(monkeypatch):
    """basic-pitch present but a package it imports missing: the message names that package, and
    the basic-pitch hint keeps its --no-deps step."""
    for name in [m for m in sys.modules if m.startswith("basic_pitch.")]:  # imported by earlier tests
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "basic_pitch", None)
    with pytest.raises(
        MissingDependencyError, match=r"basic-pitch, .*weavewave\[audio\]'.*--no-deps basic-pitch"
    ):
        _deps.require("basic_pitch.inference", "audio", "melody transcription")


def test_unknown_extra_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown extra"):
        _deps.install_hint("tset")


def test_extras_are_the_ones_pyproject_declares():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(_deps.EXTRAS) == set(declared)


def _dep_calls() -> list[tuple[str, int, str]]:
    """(file, line, extra) of every require/missing/install_hint call in the package with a literal extra."""
    calls = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            index = {"require": 1, "missing": 1, "install_hint": 0}.get(name or "")
            if index is None or len(node.args) <= index:
                continue
            arg = node.args[index]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                calls.append((path.name, node.lineno, arg.value))
    return calls


def test_every_hint_names_an_extra_that_exists():
    calls = _dep_calls()
    assert len(calls) >= 12  # the guards all go through _deps
    assert [c for c in calls if c[2] not in _deps.EXTRAS] == []


def test_no_ad_hoc_import_guards_left():
    """Optional imports go through _deps, not try/except ImportError (a few non-extra cases excepted:
    POSIX-only fcntl, and a transformers part a model needs)."""
    allowed = {"jitcache.py", "datalock.py", "mllm.py", "_deps.py"}
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                names = [getattr(n, "id", "") for n in ast.walk(node.type)]
                if "ImportError" in names or "ModuleNotFoundError" in names:
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


LIGHT = (
    "import sys\n"
    "for m in ('torch', 'transformers', 'huggingface_hub'):\n"
    "    sys.modules[m] = None  # a light install: these cannot be imported\n"
    "from weavewave.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_musicgen_on_a_light_install_is_exit_2_naming_the_neural_extra(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1"}
    args = ["generate", "--text", "calm piano", "--duration", "5", "--backend", "musicgen", "--out", str(out)]
    proc = subprocess.run(
        [sys.executable, "-c", LIGHT, *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "musicgen" in lines[0] and "pip install 'weavewave[neural]'" in lines[0]
    assert not out.exists()


def test_describer_and_refiner_name_the_neural_extra_too(monkeypatch):
    from weavewave.neural.models import locate

    monkeypatch.setitem(sys.modules, "transformers", None)
    for role, flag in (("describer", "--describer mllm"), ("refiner", "--refiner llm")):
        with pytest.raises(
            MissingDependencyError, match=rf"^{flag} needs transformers.*weavewave\[neural\]'"
        ):
            locate("some/model", role)
