"""``weavewave library add``: find audio files, analyse the new ones, and write them in small batches.

- Incremental: a file whose size and modification time match a stored row is not read again; any other
  file is hashed, and content already stored (under any name) is skipped, so duplicates are stored once.
- Resumable: rows are written every :data:`BATCH_ROWS` tracks, so an interrupted run keeps what it wrote
  and the next run starts where it stopped.
- Never fatal per file: an unreadable, unsupported or damaged file is listed in :attr:`AddReport.skipped`
  with the reason, and the run goes on.
- Bounded memory: one file's audio at a time (at most ``WEAVEWAVE_MAX_AUDIO_S`` seconds of it) and one
  batch of rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weavewave.errors import BadInputError, MissingDependencyError
from weavewave.io.audiofiles import Skipped, content_hash, find_audio_files, read_tags
from weavewave.library.store import Library
from weavewave.library.track import EMBEDDER_MINILM, EMBEDDER_WORDS, analyse_track, embed_rows, text_embedder

BATCH_ROWS = 8  # rows per write: small, so an interrupt loses little, and one embedding batch

ProgressFn = Callable[[float, str], None]


@dataclass
class AddReport:
    """What one ``add`` run did."""

    found: int = 0
    added: int = 0
    unchanged: int = 0
    duplicates: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """The run's summary, and one line per skipped file."""
        rate = self.added / self.seconds * 60 if self.seconds > 0 and self.added else 0.0
        out = [
            f"added {self.added} tracks ({self.unchanged} unchanged, {self.duplicates} duplicates by content, "
            f"{len(self.skipped)} skipped) of {self.found} audio files in {self.seconds:.1f} s"
            + (f", {rate:.0f} tracks/min" if rate else "")
        ]
        out += [f"  skipped {s.path}: {s.reason}" for s in self.skipped]
        return out


def add_paths(
    library: Library,
    paths: Iterable[str | Path],
    *,
    text_model: str = "auto",
    progress: ProgressFn | None = None,
) -> AddReport:
    """Analyse and store the audio files under ``paths`` that the library does not hold yet.

    ``text_model`` embeds captions: ``minilm`` (the sentence model), ``lexicon`` (hashed words: no torch,
    faster, cruder) or ``auto`` (what the library was built with, else the sentence model where installed).
    """
    say = progress or (lambda fraction, message: None)
    started = time.perf_counter()
    files, skipped = find_audio_files(paths)
    report = AddReport(found=len(files), skipped=list(skipped))
    known = library.known()
    by_path = {p: (size, mtime) for p, size, mtime in known.values()}
    embedder = _embedder(library, text_model)
    batch: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, path in enumerate(files):
        say(i / max(1, len(files)), f"{i}/{len(files)} {path.name}")
        try:
            st = path.stat()
            if by_path.get(str(path)) == (st.st_size, st.st_mtime_ns):
                report.unchanged += 1
                continue
            digest = content_hash(path)
        except OSError as exc:
            report.skipped.append(Skipped(path, f"cannot read it ({exc.strerror or exc})"))
            continue
        if digest in known:
            old_path = known[digest][0]
            if old_path == str(path) or not Path(old_path).exists():
                # Touched but unchanged, or moved: the row follows the file, nothing is analysed again.
                library.update_file(digest, path)
                report.unchanged += 1
            else:
                report.duplicates += 1
            continue
        if digest in seen:
            report.duplicates += 1
            continue
        try:
            row = analyse_track(path, digest, read_tags(path))
        except MissingDependencyError:
            raise
        except BadInputError as exc:
            report.skipped.append(
                Skipped(path, str(exc).removeprefix(f"{path.name}: ").removeprefix(path.name + " "))
            )
            continue
        except Exception as exc:  # a decoder's own error on a damaged file must not stop a long run
            report.skipped.append(Skipped(path, f"cannot analyse it ({type(exc).__name__}: {exc})"))
            continue
        seen.add(digest)
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            report.added += _flush(library, batch, embedder)
            batch = []
    report.added += _flush(library, batch, embedder)
    say(0.99, "updating the vector index")
    library.ensure_index()
    report.seconds = time.perf_counter() - started
    say(1.0, "done")
    return report


def _embedder(library: Library, text_model: str) -> str:
    """The text embedder: the one the library was built with (a library mixes none), else the asked one."""
    asked = {"minilm": EMBEDDER_MINILM, "lexicon": EMBEDDER_WORDS}.get(text_model)
    stored = library.embedder()
    if stored:
        if asked is not None and asked != stored:
            raise BadInputError(
                f"--text-model {text_model}: {library.folder} was built with {stored} embeddings "
                "and one library cannot mix two; drop --text-model, or use a new --library"
            )
        return stored
    return asked or text_embedder()


def _flush(library: Library, batch: list[dict[str, Any]], embedder: str) -> int:
    if not batch:
        return 0
    embed_rows(batch, embedder)
    return library.write(batch)
