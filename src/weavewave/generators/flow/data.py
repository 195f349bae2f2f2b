"""The training data of ``weavewave train flow``: a folder in Hugging Face's ``audiofolder`` layout.

Two layouts are read. The one ``weavewave annotate`` writes (``data/train.jsonl`` with ``audio`` and
``caption`` columns, read by :func:`weavewave.train.dataset.load_rows`), and Hugging Face's
``audiofolder`` (the one ``datasets.load_dataset("audiofolder", data_dir=D)`` loads): audio files plus a ``metadata.jsonl`` (or ``metadata.csv``) beside them
whose rows name a ``file_name`` (relative to the metadata file) and give its ``caption``; optionally split
into ``train/``, ``validation/``, ``test/`` subfolders, each with its own metadata. A row may also carry an
``embedding`` (a list of numbers): a condition vector made elsewhere, used instead of the caption's.

It is read here directly rather than through ``datasets``: datasets 5 decodes (and even prepares) audio
columns with torchcodec, which does not install next to the CPU torch this project pins; the rows and
files are the same either way.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from weavewave.errors import BadInputError

METADATA_NAMES = ("metadata.jsonl", "metadata.csv")
SPLITS = ("train", "validation", "test")
ANNOTATED_DATA = "data/train.jsonl"  # weavewave.train.dataset.DATA_FILE, named here to stay light


@dataclass(frozen=True)
class Example:
    """One row: an audio file, its caption, and an optional condition vector given with the data."""

    path: Path
    caption: str
    embedding: tuple[float, ...] | None = None

    def __repr__(self) -> str:
        extra = f", embedding[{len(self.embedding)}]" if self.embedding else ""
        return f"Example({self.path.name!r}, {self.caption[:40]!r}{extra})"


def read_rows(meta: Path) -> list[dict]:
    """The rows of a metadata.jsonl or metadata.csv file, as dicts; one clear line when unreadable."""
    try:
        if meta.suffix == ".jsonl":
            lines = [line for line in meta.read_text(encoding="utf-8").splitlines() if line.strip()]
            return [json.loads(line) for line in lines]
        with meta.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"cannot read {meta}: {exc}") from None


def _annotated(row: dict) -> Example:
    emb = row.get("embedding")
    return Example(Path(row["audio"]), row["caption"].strip(), tuple(float(x) for x in emb) if emb else None)


def read_dataset(folder: str | Path, split: str = "train") -> list[Example]:
    """The rows of an ``audiofolder`` dataset: ``split``'s subfolder when there is one, else the folder.

    Raises BadInputError, with one line, for a missing folder or metadata, a row without ``file_name`` or
    ``caption``, a file that is not there, or no rows at all.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise BadInputError(f"dataset folder {root} not found: check the path given to --data")
    if (root / ANNOTATED_DATA).is_file():  # made by `weavewave annotate` (which has no splits)
        from weavewave.train.dataset import load_rows

        return [_annotated(row) for row in load_rows(root)]
    base = root / split if (root / split).is_dir() else root
    metas = [base / n for n in METADATA_NAMES if (base / n).is_file()]
    if not metas:
        raise BadInputError(
            f"{base} has no metadata.jsonl or metadata.csv: a dataset is audio files plus a metadata.jsonl "
            'with one {"file_name": ..., "caption": ...} row per file'
        )
    examples = []
    for i, row in enumerate(read_rows(metas[0]), 1):
        where = f"{metas[0].name} row {i}"
        if not isinstance(row, dict) or not row.get("file_name"):
            raise BadInputError(f"{where} has no file_name: each row names its audio file")
        caption = row.get("caption")
        if not isinstance(caption, str) or not caption.strip():
            raise BadInputError(f"{where} ({row['file_name']}) has no caption: give every file one")
        path = metas[0].parent / str(row["file_name"])
        if not path.is_file():
            raise BadInputError(f"{where} names {row['file_name']}, which is not in {metas[0].parent}")
        emb = row.get("embedding")
        if isinstance(emb, str):  # a CSV cell
            emb = json.loads(emb) if emb.strip() else None
        examples.append(Example(path, caption.strip(), tuple(float(x) for x in emb) if emb else None))
    if not examples:
        raise BadInputError(f"{metas[0]} has no rows: the dataset is empty")
    dims = {len(e.embedding) for e in examples if e.embedding}
    if len(dims) > 1 or (dims and any(e.embedding is None for e in examples)):
        raise BadInputError(f"{metas[0]}: give an embedding of the same length on every row, or on none")
    return examples
