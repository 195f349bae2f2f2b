"""Move weavewave's modules into the folders of the spine and rewrite every import of them.

``python tools/relayout.py``            move the files (``git mv``) and rewrite src tests bench tools docs
``python tools/relayout.py FILE ...``   only rewrite the imports in these files or folders (no moves)
``python tools/relayout.py --check``    list what would change, change nothing (exit 1 if anything would)

The map is in :data:`MODULES` (whole modules) and :data:`SYMBOLS` (names that left a module that was split:
``master`` went from ``weavewave.render`` to ``weavewave.dsp.master``). What is rewritten:

- ``from weavewave.render import master, render`` (one statement per new home when the names part ways);
- ``from weavewave import render`` and ``import weavewave.render [as r]``;
- dotted names anywhere, e.g. monkeypatch targets ``"weavewave.render._synth_pcm"`` and ``-m`` calls;
- source paths such as ``src/weavewave/render.py`` in docs.

It is idempotent: a name already at its new home is left alone, so it is safe to run again after a merge
(e.g. on files another branch changed meanwhile). Afterwards run ``ruff check --fix`` and ``ruff format``,
since split imports are written one statement per line and may need sorting.

What it cannot see: a module bound to a short name (``from weavewave import render``) whose attributes
moved to a different module (``render.master``); fix those by hand (``git grep`` shows them).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TARGETS = ("src", "tests", "bench", "tools", "docs", "README.md", "Makefile", "pyproject.toml")
SUFFIXES = {".py", ".md", ".toml", ".cfg", ".txt", ".yml", ".yaml", ".sh", ".ini", ""}

# Old module -> new module. The spine as folders: music/ (the theory the composer and perceivers share),
# io/ (reading and writing media), dsp/ (signal processing on arrays), neural/ (model loading and chat-model
# helpers), generators/{symbolic,musicgen}/, export/ (writing the results).
MODULES: dict[str, str] = {
    "weavewave.theory": "weavewave.music.theory",
    "weavewave.instruments": "weavewave.music.instruments",
    "weavewave.styles": "weavewave.music.styles",
    "weavewave.form": "weavewave.music.form",
    "weavewave.melodic": "weavewave.music.melodic",
    "weavewave.reharmonize": "weavewave.music.reharmonize",
    "weavewave.arrangement": "weavewave.music.arrangement",
    "weavewave.analyze": "weavewave.music.analysis",
    "weavewave.audio_io": "weavewave.io.audio",
    "weavewave.textfile": "weavewave.io.text",
    "weavewave.render": "weavewave.generators.symbolic.render",
    "weavewave.generators.musicgen": "weavewave.generators.musicgen.generator",
    "weavewave.generators.musicgen_fast": "weavewave.generators.musicgen.fast",
    "weavewave.generators.chroma": "weavewave.generators.musicgen.chroma",
    "weavewave.models": "weavewave.neural.models",
    "weavewave.export": "weavewave.export.track",
    "weavewave.mux": "weavewave.export.video",
}

# Names that left a module when it was split: old module -> {name: new module}. Names not listed follow
# the module to its new home in MODULES.
_LOUDNESS = (
    "integrated_lufs",
    "sample_peak_dbfs",
    "true_peak_dbfs",
    "true_peak_envelope",
    "loudness_curve",
    "longest_silence_s",
    "clipped_runs",
    "LOUDNESS_BLOCK_S",
    "ABSOLUTE_GATE_LUFS",
    "RELATIVE_GATE_LU",
    "OVERSAMPLE",
    "TAPS_PER_PHASE",
    "SHORT_TERM_S",
    "SILENCE_DBFS",
    "CLIP_LEVEL",
    "CLIP_RUN",
)
_MASTER = (
    "master",
    "TARGET_LUFS",
    "LOUDNESS_TOLERANCE_LU",
    "TRUE_PEAK_LIMIT_DBFS",
    "LIMITER_CEILING_DBFS",
    "MAX_MASTER_GAIN_DB",
    "MAX_MAKEUP_DB",
    "LIMITER_ITERATIONS",
    "LOUDNESS_CORRECTIONS",
    "LIMITER_SMOOTHING_S",
    "LIMITER_BLOCK_S",
    "FADE_IN_S",
    "FADE_OUT_MAX_S",
    "FADE_OUT_FRACTION",
)
_VIDEO_READER = (
    "require_av",
    "open_video",
    "probe_video",
    "picture_streams",
    "small_rgb",
    "video_limit_s",
    "LIMIT_ENV",
    "MIN_VIDEO_S",
)
_AUDIO_READER = (
    "load_audio",
    "max_audio_seconds",
    "MAX_AUDIO_S",
    "MAX_AUDIO_ENV",
    "MIN_AUDIO_S",
    "DECODED_SHARE",
    "SILENCE_DBFS",
    "VIDEO_SIGNATURES",
)
_SOUNDFONT = ("find_soundfont", "SOUNDFONT_ENV", "SYSTEM_SOUNDFONTS", "BUNDLED_SOUNDFONT", "load_soundfont")
SYMBOLS: dict[str, dict[str, str]] = {
    "weavewave.audio_io": {name: "weavewave.dsp.loudness" for name in _LOUDNESS},
    "weavewave.render": {
        **{name: "weavewave.dsp.master" for name in _MASTER},
        **{name: "weavewave.generators.symbolic.soundfont" for name in _SOUNDFONT},
    },
    "weavewave.generators.symbolic.render": {
        name: "weavewave.generators.symbolic.soundfont" for name in _SOUNDFONT
    },
    "weavewave.generators.chroma": {name: "weavewave.dsp.signal" for name in ("to_mono", "resample")},
    "weavewave.perceive.video": {name: "weavewave.io.video" for name in _VIDEO_READER},
    "weavewave.perceive.mllm": {"json_objects": "weavewave.neural.chat_json"},
    "weavewave.perceive.audio": {name: "weavewave.io.audio" for name in _AUDIO_READER},
}

# Files to move: derived from MODULES (a module that became a package's __init__ is spelled out here).
PACKAGES = (
    "music",
    "io",
    "dsp",
    "neural",
    "export",
    "generators/musicgen",
)
PACKAGE_DOCS = {
    "music": "Music theory the composer, the perceivers and the evaluation share: scales, chords,\n"
    "instruments, styles, form, melody rules, reharmonisation, the arrangement data model, audio analysis.",
    "io": "Reading and writing media, one reader per medium: audio, video and text files.",
    "dsp": "Signal processing on arrays: loudness and true peak (BS.1770), mastering, resampling.",
    "neural": "Loading neural models (hub id or folder, one shared cache) and reading chat models' answers.",
    "export": "Writing what was made: audio, MIDI, stems and brief files, and the soundtrack in a video.",
    "generators/musicgen": "The MusicGen backend (transformers): text, melody conditioning, continuation.",
}


def _path(module: str) -> Path:
    return Path("src", *module.split(".")).with_suffix(".py")


def _new_modules() -> set[str]:
    new = set(MODULES.values())
    for table in SYMBOLS.values():
        new.update(table.values())
    for module in list(new):
        parts = module.split(".")
        new.update(".".join(parts[:i]) for i in range(2, len(parts)))
    return new


NEW_MODULES = _new_modules()


def move_files(root: Path) -> list[str]:
    """``git mv`` every module in MODULES to its new home (skipping those already moved)."""
    done = []
    for package in PACKAGES:
        init = root / "src" / "weavewave" / package / "__init__.py"
        if not init.exists():
            init.parent.mkdir(parents=True, exist_ok=True)
            init.write_text(f'"""{PACKAGE_DOCS[package]}"""\n')
            subprocess.run(["git", "add", str(init)], cwd=root, check=True)
            done.append(f"created {init.relative_to(root)}")
    for old, new in MODULES.items():
        src, dst = root / _path(old), root / _path(new)
        if src.exists() and not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["git", "mv", str(src), str(dst)], cwd=root, check=True)
            done.append(f"moved {_path(old)} -> {_path(new)}")
    return done


# --- rewriting --------------------------------------------------------------------------------------------
_DOTTED = re.compile(r"(?<![\w.])weavewave(?:\.\w+)+")
# A statement on its own line, or one inside a ``python -c`` string: at the start of the string or after
# "; ", ended by ";", a quote or an escaped newline.
_FROM = re.compile(
    r"(?:^|(?<=; ))(?P<indent>[ \t]*[\"']?)from[ \t]+(?P<module>weavewave(?:\.\w+)*)[ \t]+import[ \t]+"
    r"(?P<names>\([^)]*\)|[^\n;\"'#\\]*?)(?P<comment>[ \t]*#[^\n]*)?(?=[ \t]*(?:$|[;\"'\\]))",
    re.M,
)
_IMPORT = re.compile(r"^(?P<indent>[ \t]*)import[ \t]+(?P<module>weavewave(?:\.\w+)+)(?P<rest>[^\n]*)$", re.M)
_SRC_PATH = re.compile(r"(?<![\w.])((?:src/)?weavewave(?:/\w+)+)\.py\b")


def _new_home(module: str, name: str | None = None) -> str | None:
    """Where ``module`` (or its attribute ``name``) lives now; None when it did not move."""
    if name is not None and name in SYMBOLS.get(module, {}):
        return SYMBOLS[module][name]
    return MODULES.get(module)


def rewrite_dotted(match: re.Match[str]) -> str:
    """``weavewave.a.b.c``: the longest old-module prefix is replaced, with a moved name honoured."""
    text = match.group(0)
    if re.match(r"[ \t]+import\b", match.string[match.end() :]):
        return text  # the module of a ``from ... import`` statement: rewrite_from has decided it
    parts = text.split(".")
    for i in range(len(parts), 1, -1):
        head = ".".join(parts[:i])
        if i < len(parts) and parts[i] in SYMBOLS.get(head, {}):
            return ".".join([SYMBOLS[head][parts[i]], *parts[i:]])
        if head in NEW_MODULES and head not in MODULES:
            return text  # already at its new home (new packages may share a prefix with an old module)
        if head in MODULES or head in SYMBOLS:
            rest = parts[i:]
            home = _new_home(head, rest[0] if rest else None)
            if home is None:
                return text
            return ".".join([home, *rest])
    return text


def _split_names(names: str) -> list[tuple[str, str]]:
    """``(a, b as c,)`` -> [("a", "a"), ("b", "b as c")], comments dropped."""
    body = re.sub(r"#[^\n]*", "", names).strip().strip("()")
    out = []
    for item in body.replace("\n", " ").split(","):
        item = " ".join(item.split())
        if item:
            out.append((item.split(" as ")[0].strip(), item))
    return out


def rewrite_from(match: re.Match[str]) -> str:
    module, indent = match.group("module"), match.group("indent")
    names = match.group("names")
    comment = match.group("comment") or ""
    items = _split_names(names)
    if not items or any(name == "*" for name, _ in items):
        return match.group(0)
    homes: dict[str, list[str]] = {}
    renamed = False
    for name, item in items:
        if f"{module}.{name}" in NEW_MODULES and f"{module}.{name}" not in MODULES:
            home = module  # a new module, imported by name from its package
        elif f"{module}.{name}" in MODULES:  # ``from weavewave import render``: a module moved
            new = MODULES[f"{module}.{name}"]
            home, _, new_name = new.rpartition(".")
            if new_name != name:
                renamed = True
                item = f"{new_name} as {item.split(' as ')[1]}" if " as " in item else f"{new_name} as {name}"
        else:
            home = _new_home(module, name) or module
        homes.setdefault(home, []).append(item)
    if list(homes) == [module]:
        return match.group(0)
    if len(homes) == 1 and not renamed:
        (home,) = homes
        start, end = match.span("module")
        whole = match.group(0)
        offset = match.start()
        return whole[: start - offset] + home + whole[end - offset :]
    lines = [f"{indent}from {home} import {', '.join(items)}" for home, items in homes.items()]
    lines[0] += comment
    return "\n".join(lines)


def rewrite_import(match: re.Match[str]) -> str:
    module = match.group("module")
    new = _DOTTED.sub(rewrite_dotted, module)
    if new == module:
        return match.group(0)
    rest = match.group("rest")
    if not rest.strip().startswith("as") and not rest.strip().startswith(","):
        # ``import weavewave.render`` binds ``weavewave``; the dotted uses below are rewritten too.
        return f"{match.group('indent')}import {new}{rest}"
    return f"{match.group('indent')}import {new}{rest}"


def rewrite_path(match: re.Match[str]) -> str:
    path = match.group(1)
    prefix = "src/" if path.startswith("src/") else ""
    module = path.removeprefix("src/").replace("/", ".")
    if module in MODULES:
        return prefix + MODULES[module].replace(".", "/") + ".py"
    return match.group(0)


_OFF = re.compile(r"relayout: off.*?relayout: on", re.S)


def rewrite_text(text: str) -> str:
    """Every import and dotted name in ``text`` moved to its new home. Running it twice changes nothing.

    Text between the markers ``relayout: off`` and ``relayout: on`` (e.g. a table of the old names in the
    docs) is left as it is.
    """
    out, last = [], 0
    for kept in _OFF.finditer(text):
        out += [_rewrite(text[last : kept.start()]), kept.group(0)]
        last = kept.end()
    return "".join([*out, _rewrite(text[last:])])


def _rewrite(text: str) -> str:
    text = _FROM.sub(rewrite_from, text)
    text = _IMPORT.sub(rewrite_import, text)
    text = _DOTTED.sub(rewrite_dotted, text)
    return _SRC_PATH.sub(rewrite_path, text)


def _files(targets: list[str], root: Path) -> list[Path]:
    files: list[Path] = []
    for target in targets:
        p = (root / target) if not Path(target).is_absolute() else Path(target)
        if p.is_dir():
            files.extend(
                f
                for f in sorted(p.rglob("*"))
                if f.is_file() and f.suffix in SUFFIXES and "__pycache__" not in f.parts
            )
        elif p.is_file():
            files.append(p)
    return [f for f in files if f.resolve() != Path(__file__).resolve()]


def rewrite_files(files: list[Path], *, check: bool = False) -> list[Path]:
    changed = []
    for f in files:
        try:
            old = f.read_text()
        except UnicodeDecodeError:
            continue
        new = rewrite_text(old)
        if new != old:
            changed.append(f)
            if not check:
                f.write_text(new)
    return changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", help="files or folders to rewrite (default: move, then rewrite all)")
    ap.add_argument("--check", action="store_true", help="only list the files that would change")
    args = ap.parse_args(argv)
    if not args.paths and not args.check:
        for line in move_files(ROOT):
            print(line)
    changed = rewrite_files(_files(args.paths or list(DEFAULT_TARGETS), ROOT), check=args.check)
    for f in changed:
        print(("would rewrite " if args.check else "rewrote ") + str(f.relative_to(ROOT)))
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
