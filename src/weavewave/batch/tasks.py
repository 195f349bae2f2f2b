"""Batch tasks other than making music: ``annotate``, ``eval`` and ``library-add`` rows run through the same
engine.

``weavewave batch MANIFEST --task annotate|eval --out OUT`` reads one job per row, with the fields named as
that command's options (without ``--``, ``_`` for ``-``; the command's positional arguments as ``music``
and ``paths``). Each row writes its own folder ``OUT/<id>/``, atomically, as a generate row does: an
annotate row a dataset folder (``datasets.load_dataset`` reads it), an eval row a report (results.json,
report.md, report.html), a library-add row its ``added.json`` (what it added to the row's ``library``, which
is written in place: adds that overlap are safe, the library's own lock orders them). Ids, resume, results.jsonl, progress, local workers and Ray are the engine's.

A row's inputs are local files or folders (on Ray: a path every node sees). Its id, when not given, is a
hash of the task and its fields with every input replaced by the SHA-256 of its content (a folder: of
every file under it, by relative path), so a changed track or piece gives the row a new folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weavewave.errors import FieldError

ANNOTATE, EVAL, LIBRARY_ADD = "annotate", "eval", "library-add"
TASKS = (ANNOTATE, EVAL, LIBRARY_ADD)
TEXT_MODELS = ("auto", "minilm", "lexicon")  # as `weavewave library add --text-model`
EMBEDDERS = ("features", "clap", "encodec")
REVIEW_ACTIONS = ("correct", "reject")
# Field kinds: one local path, one or more local paths, a folder written in place (named by its path, not
# its content: a library), a model (hub id, or a folder relative to the
# manifest), free text, a number or word, one of a set, a list from a set, a flag.
PATH, PATHS, PLACE, MODEL, TEXT, VALUE, CHOICE, CHOICES, FLAG = (
    "path", "paths", "place", "model", "text", "value", "choice", "choices", "flag",
)  # fmt: skip


@dataclass(frozen=True)
class TaskField:
    """One field a task's rows may hold: its kind, whether it is required, its allowed values."""

    kind: str
    required: bool = False
    choices: tuple[str, ...] = ()


TASK_FIELDS: dict[str, dict[str, TaskField]] = {
    ANNOTATE: {
        "music": TaskField(PATHS, required=True),
        "segment": TaskField(VALUE),
        "licence": TaskField(TEXT),
        "review": TaskField(CHOICE, choices=REVIEW_ACTIONS),
    },
    EVAL: {
        "paths": TaskField(PATHS, required=True),
        "reference": TaskField(PATH),
        "embedder": TaskField(CHOICES, choices=EMBEDDERS),
        "clap_model": TaskField(MODEL),
        "clip_model": TaskField(MODEL),
        "encodec_model": TaskField(MODEL),
        "images": TaskField(PATH),
        "no_plots": TaskField(FLAG),
    },
    LIBRARY_ADD: {
        "music": TaskField(PATHS, required=True),
        "library": TaskField(PLACE, required=True),
        "text_model": TaskField(CHOICE, choices=TEXT_MODELS),
        "clap_model": TaskField(MODEL),
    },
}
TRUE_WORDS, FALSE_WORDS = ("true", "yes", "1"), ("false", "no", "0", "")  # CSV cells hold flags as words
# The figures of an eval report copied into the row's record, so results.jsonl compares rows at a glance.
EVAL_SUMMARY_PREFIXES = ("fad", "kl", "clap", "align")


def check_task_row(
    task: str,
    values: dict[str, Any],
    *,
    base: str | None,
    check_files: bool,
    digests: dict[str, str],
) -> tuple[dict[str, Any], str]:
    """Check one row of an annotate or eval manifest (``id`` already removed); return its fields (paths
    made absolute) and its content id. Raises FieldError naming the first bad field."""
    spec = TASK_FIELDS[task]
    for name in values:
        if name not in spec:
            raise FieldError(name, f"is not a field of {task} rows; use {', '.join(spec)} (and id)")
    for name, f in spec.items():
        if f.required and name not in values:
            raise FieldError(name, f"missing: every {task} row names its {name} (a file or folder)")
    fields: dict[str, Any] = {}
    canonical: dict[str, Any] = {}
    for name, value in values.items():
        f = spec[name]
        if f.kind in (PATH, PATHS):
            items = _path_list(name, value, several=f.kind == PATHS)
            located = [_local_path(name, v, base, check_files) for v in items]
            fields[name] = located if f.kind == PATHS else located[0]
            hashes = [digests.get(p) or digests.setdefault(p, tree_digest(p)) for p in located]
            canonical[name] = hashes if f.kind == PATHS else hashes[0]
        elif f.kind == PLACE:
            if not isinstance(value, str) or not value.strip():
                raise FieldError(name, "give a folder path (relative to the manifest)")
            place = Path(os.path.expanduser(value.strip()))
            fields[name] = canonical[name] = str(
                (Path(base) / place if base is not None else place).resolve()
            )
        elif f.kind == MODEL:
            if not isinstance(value, str) or not value.strip():
                raise FieldError(name, "give a hub id or a model folder")
            local = Path(base or ".") / os.path.expanduser(value) if base is not None else None
            fields[name] = str(local.resolve()) if local is not None and local.exists() else value.strip()
            canonical[name] = fields[name]
        elif f.kind == CHOICE:
            word = str(value).strip().lower()
            if word not in f.choices:
                raise FieldError(name, f"{value!r}: use one of {', '.join(f.choices)}")
            fields[name] = canonical[name] = word
        elif f.kind == CHOICES:
            words = value if isinstance(value, list) else str(value).replace(";", ",").split(",")
            chosen = [str(w).strip().lower() for w in words if str(w).strip()]
            bad = [w for w in chosen if w not in f.choices]
            if bad or not chosen:
                raise FieldError(
                    name, f"{bad[0] if bad else value!r}: use one or more of {', '.join(f.choices)}"
                )
            fields[name] = canonical[name] = list(dict.fromkeys(chosen))
        elif f.kind == FLAG:
            fields[name] = canonical[name] = _flag(name, value)
        elif f.kind == TEXT:
            fields[name] = canonical[name] = str(value).strip()
        else:
            fields[name] = canonical[name] = value
    if task == ANNOTATE and "segment" in fields:
        from weavewave.errors import BadInputError
        from weavewave.train.annotate import parse_segment

        try:
            fields["segment"] = canonical["segment"] = parse_segment(str(fields["segment"]))
        except BadInputError as exc:
            raise FieldError("segment", str(exc).removeprefix("--segment ")) from None
    text = json.dumps({"task": task, "fields": canonical}, sort_keys=True, separators=(",", ":"))
    from weavewave.batch.manifest import HASH_ID_CHARS

    return fields, hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_ID_CHARS]


def _path_list(name: str, value: Any, *, several: bool) -> list[str]:
    if isinstance(value, str) and several:
        from weavewave.batch.manifest import CSV_LIST_SEPARATOR

        value = [v.strip() for v in value.split(CSV_LIST_SEPARATOR) if v.strip()]  # a CSV cell: a;b
    items = value if isinstance(value, list) else [value]
    if (
        not items
        or not all(isinstance(v, str) and v.strip() for v in items)
        or (len(items) > 1 and not several)
    ):
        raise FieldError(name, "give a file or folder path (relative to the manifest)")
    return [v.strip() for v in items]


def _local_path(name: str, value: str, base: str | None, check: bool) -> str:
    from weavewave.batch.manifest import is_url

    if is_url(value):
        raise FieldError(name, f"{value}: give a local file or folder (on Ray, one every node sees); "
                         "URLs are taken by generate and describe rows only")  # fmt: skip
    if base is None or is_url(base):
        raise FieldError(name, f"{value}: a manifest at a URL (or uploaded) cannot name local files; give "
                         "a local manifest")  # fmt: skip
    where = (Path(base) / os.path.expanduser(value)).resolve()
    if check and not where.exists():
        raise FieldError(name, f"{value}: no such file or folder (looked in {where.parent})")
    return str(where)


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise FieldError(name, f"{value!r}: use true or false")


def tree_digest(path: str) -> str:
    """SHA-256 of a file's content, or of a folder's: every regular file under it by relative path and
    content (``"missing"`` where it cannot be read: the row fails on its own when it runs)."""
    from weavewave.batch.manifest import file_digest

    root = Path(path)
    if not root.is_dir():
        return file_digest(path)
    digest = hashlib.sha256()
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        digest.update(f"{p.relative_to(root).as_posix()}\0{file_digest(str(p))}\n".encode())
    return digest.hexdigest()


def run_task(task: str, fields: dict[str, Any], folder: Path, record: dict[str, Any]) -> list[Path]:
    """Run one annotate, eval or library-add row into ``folder`` (which must not exist yet); return the files written.
    Puts the task's own figures into ``record["summary"]`` and its time into ``record["seconds"]``."""
    t0 = time.perf_counter()
    if task == ANNOTATE:
        from weavewave.train.annotate import DEFAULT_SEGMENT_S, annotate

        done = annotate(fields["music"], folder, segment=fields.get("segment", DEFAULT_SEGMENT_S),
                        licence=fields.get("licence"), review=fields.get("review", "correct"))  # fmt: skip
        record["summary"] = {"tracks": done.tracks_done, "kept": done.kept, "corrected": done.corrected,
                             "rejected": done.rejected, "skipped": len(done.skipped), "rows": done.total_rows}  # fmt: skip
    elif task == EVAL:
        from weavewave.evaluate.report import evaluate

        results = evaluate(
            fields["paths"],
            reference=fields.get("reference"),
            out=folder,
            embedders=tuple(fields.get("embedder") or ("features",)),
            clap_model=fields.get("clap_model"),
            clip_model=fields.get("clip_model"),
            embedder_models={"encodec": fields.get("encodec_model")},
            images=fields.get("images"),
            plots=not fields.get("no_plots", False),
        )
        summary = {k: v for k, v in results.get("summary", {}).items() if isinstance(v, int | float | str)}
        summary.update({k: v for k, v in results.get("distribution", {}).items()
                        if k.startswith(EVAL_SUMMARY_PREFIXES) and isinstance(v, int | float)})  # fmt: skip
        record["summary"] = summary
    elif task == LIBRARY_ADD:
        from weavewave.library.indexer import add_paths
        from weavewave.library.store import open_library

        library = open_library(fields["library"], create=True, what="library")
        report = add_paths(library, fields["music"], text_model=fields.get("text_model", "auto"),
                           clap_model=fields.get("clap_model"))  # fmt: skip
        record["summary"] = {"found": report.found, "added": report.added, "unchanged": report.unchanged,
                             "duplicates": report.duplicates, "skipped": len(report.skipped)}  # fmt: skip
        folder.mkdir(parents=True)
        added = {"library": fields["library"], **record["summary"],
                 "skipped_files": [{"path": str(k.path), "reason": k.reason} for k in report.skipped]}  # fmt: skip
        (folder / "added.json").write_text(json.dumps(added, indent=2) + "\n", encoding="utf-8")
    else:
        raise ValueError(f"task must be one of {TASKS}")
    record["seconds"][task] = round(time.perf_counter() - t0, 3)
    return sorted(p for p in folder.rglob("*") if p.is_file())
