"""The dataset folder that ``weavewave annotate`` writes and ``weavewave train`` reads.

Layout (a Hugging Face dataset repository, loadable with ``datasets.load_dataset(folder)``)::

    DATASET/
      README.md            dataset card; its YAML header points the loader at data/train.jsonl
      data/train.jsonl     one row per segment (see COLUMNS)
      audio/*.flac         the segments, named by the source's content hash and the segment index
      images/*             photos paired with segments (``annotate --images``), named by content hash
      rejected.jsonl       segments the reviewer dropped, with the reason
      skipped.jsonl        source files that could not be read, with the reason
      annotate_state.json  which sources are done (incremental and resumable runs)

The ``audio`` column is a path relative to the folder, a plain string: ``datasets``' Audio feature
needs torchcodec to decode, which is not installable everywhere, so the trainer decodes with soundfile.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from weavewave.errors import BadInputError

DATA_FILE = "data/train.jsonl"
AUDIO_DIR = "audio"
CARD_FILE = "README.md"
REJECTED_FILE = "rejected.jsonl"
SKIPPED_FILE = "skipped.jsonl"
STATE_FILE = "annotate_state.json"  # not state.json: datasets takes that for a save_to_disk folder
# What the trainer needs in every row; the rest are attributes for people and later tools.
REQUIRED_COLUMNS = ("audio", "caption")
# Every column annotate writes, in order.
COLUMNS = (
    "id", "audio", "caption", "tempo_bpm", "key", "meter", "energy", "mood", "start_s", "end_s",
    "duration_s", "source", "source_sha256", "story", "image_prompt", "writer", "review", "review_notes",
    "clap_score", "provenance", "image", "image_source", "image_score",
)  # fmt: skip


def load_rows(folder: str | Path) -> list[dict[str, Any]]:
    """The rows of a dataset folder, through ``datasets.load_dataset`` (its card's data files).

    Raises BadInputError when the folder is not a dataset, is empty, or lacks a column the trainer needs
    (the message names the column). Audio paths come back absolute.
    """
    from weavewave._deps import require

    root = Path(folder)
    if not root.is_dir():
        raise BadInputError(f"--data {folder}: no such folder; make one with `weavewave annotate MUSIC_DIR "
                            f"--out {folder}`")  # fmt: skip
    if not (root / DATA_FILE).is_file():
        raise BadInputError(f"--data {folder} is not a weavewave dataset (no {DATA_FILE}); make one with "
                            f"`weavewave annotate MUSIC_DIR --out {folder}`")  # fmt: skip
    datasets = require("datasets", "train", "reading a training dataset")
    datasets.disable_progress_bars()
    cache = tempfile.mkdtemp(prefix="weavewave-ds-")  # a private cache: nothing left in ~/.cache
    try:
        ds = datasets.load_dataset(
            "json", data_files=str(root / DATA_FILE), split="train", cache_dir=cache, keep_in_memory=True
        )
        rows = ds.to_list()
        columns = list(ds.column_names)
    except Exception as exc:  # a damaged JSONL: say which file, not the builder's traceback
        raise BadInputError(
            f"--data {folder}: cannot read {DATA_FILE} ({str(exc).splitlines()[0][:200]})"
        ) from None
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    if not rows:
        raise BadInputError(f"--data {folder} has no rows: annotate some music into it first")
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            raise BadInputError(f"--data {folder}: the dataset has no column {name!r}; each row needs "
                                f"{' and '.join(REQUIRED_COLUMNS)} (see docs/TRAINING.md)")  # fmt: skip
    for i, row in enumerate(rows):
        for name in REQUIRED_COLUMNS:
            if not isinstance(row.get(name), str) or not row[name].strip():
                raise BadInputError(f"--data {folder}: row {i + 1} has an empty {name!r}; fix or remove it")
        path = Path(row["audio"])
        row["audio"] = str(path if path.is_absolute() else root / path)
        row.setdefault("id", f"row-{i}")
        if row["id"] is None:
            row["id"] = f"row-{i}"
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]], *, append: bool = True) -> None:
    """Append (or write) rows as JSON Lines, flushed so an interrupted run keeps whole lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if append else "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
        fh.flush()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The whole lines of a JSON Lines file ([] when missing); a torn last line is dropped."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
