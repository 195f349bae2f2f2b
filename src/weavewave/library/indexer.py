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
    clap_embedded: int = 0  # tracks given a CLAP audio embedding by this run (new and earlier ones)
    clap_missing: int = 0  # tracks still without one (the library has a CLAP column, no --clap-model given)

    def lines(self) -> list[str]:
        """The run's summary, and one line per skipped file."""
        rate = self.added / self.seconds * 60 if self.seconds > 0 and self.added else 0.0
        out = [
            f"added {self.added} tracks ({self.unchanged} unchanged, {self.duplicates} duplicates by content, "
            f"{len(self.skipped)} skipped) of {self.found} audio files in {self.seconds:.1f} s"
            + (f", {rate:.0f} tracks/min" if rate else "")
        ]
        if self.clap_embedded:
            out.append(f"CLAP audio embeddings stored for {self.clap_embedded} tracks")
        if self.clap_missing:
            out.append(f"{self.clap_missing} tracks have no CLAP audio embedding yet: run `weavewave library "
                       "add` again with --clap-model (the model the library holds, see `library stats`)")  # fmt: skip
        out += [f"  skipped {s.path}: {s.reason}" for s in self.skipped]
        return out


def add_paths(
    library: Library,
    paths: Iterable[str | Path],
    *,
    text_model: str = "auto",
    clap_model: str | Path | None = None,
    progress: ProgressFn | None = None,
) -> AddReport:
    """Analyse and store the audio files under ``paths`` that the library does not hold yet.

    ``text_model`` embeds captions: ``minilm`` (the sentence model), ``lexicon`` (hashed words: no torch,
    faster, cruder) or ``auto`` (what the library was built with, else the sentence model where installed).
    ``clap_model`` (a hub id or folder) also stores each track's CLAP audio embedding, for tracks added
    before too; a library holds one CLAP's embeddings (another is refused with one line).
    """
    say = progress or (lambda fraction, message: None)
    started = time.perf_counter()
    embedder = _embedder(library, text_model)
    clap = None
    if clap_model is not None:  # load and check the CLAP first: a wrong one fails before any analysis
        from weavewave.library.clap import open_clap

        say(0.0, f"loading CLAP {clap_model}")
        clap, space = open_clap(clap_model)
        library.use_clap(space)
    files, skipped = find_audio_files(paths)
    report = AddReport(found=len(files), skipped=list(skipped))
    known = library.known()
    by_path = {p: (size, mtime) for p, size, mtime in known.values()}
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
            report.added += _flush(library, batch, embedder, clap, report)
            batch = []
    report.added += _flush(library, batch, embedder, clap, report)
    if clap is not None:
        _embed_earlier(library, clap, report, say)
    report.clap_missing = len(library.without_clap())
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


def _flush(library: Library, batch: list[dict[str, Any]], embedder: str, clap: Any, report: AddReport) -> int:
    if not batch:
        return 0
    embed_rows(batch, embedder)
    if clap is not None:
        from weavewave.library.clap import CLAP_COLUMN, embed_audio_file

        for row in batch:
            try:
                row[CLAP_COLUMN] = embed_audio_file(clap, row["path"]).tolist()
            except BadInputError:  # the batch is stored without CLAP; a later run with --clap-model fills it
                row[CLAP_COLUMN] = None
    added = library.write(batch)
    if clap is not None and all(row.get(CLAP_COLUMN) is not None for row in batch):
        report.clap_embedded += added
    return added


def _embed_earlier(library: Library, clap: Any, report: AddReport, say: ProgressFn) -> None:
    """CLAP embeddings for tracks stored before the library had them (or by a run without --clap-model),
    written every :data:`BATCH_ROWS` tracks; a file gone or changed since is left for a later run."""
    from weavewave.library.clap import embed_audio_file

    todo = library.without_clap()
    done: dict[str, list[float]] = {}
    for i, row in enumerate(todo):
        say(0.9, f"CLAP {i}/{len(todo)} {Path(row['path']).name}")
        path = Path(row["path"])
        try:
            st = path.stat()
            if (st.st_size, st.st_mtime_ns) != (row["size"], row["mtime_ns"]) and content_hash(path) != row[
                "content_hash"
            ]:
                continue
            done[row["content_hash"]] = embed_audio_file(clap, path).tolist()
        except (OSError, BadInputError):
            continue
        if len(done) >= BATCH_ROWS:
            library.set_clap_vectors(done)
            report.clap_embedded += len(done)
            done = {}
    library.set_clap_vectors(done)
    report.clap_embedded += len(done)
