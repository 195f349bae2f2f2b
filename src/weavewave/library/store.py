"""The library on disk: one LanceDB table of tracks in a folder, written under a file lock.

Every write (a batch of new rows, a removal, an index build) holds ``DIR/.lock`` (filelock), so two
``weavewave library add`` runs may overlap: each analyses on its own and the writes take turns, a row whose
content hash is already stored being skipped at write time (``merge_insert`` on ``content_hash``). Reads
take no lock: LanceDB versions the table, so a reader sees the last committed version.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from weavewave.errors import BadInputError
from weavewave.library.clap import CLAP_COLUMN, ClapSpace
from weavewave.library.track import FEATURE_DIM, TEXT_DIM

LIBRARY_ENV = "WEAVEWAVE_LIBRARY"
XDG_DATA_ENV = "XDG_DATA_HOME"
TABLE = "tracks"
LOCK_NAME = ".lock"
MARKER_NAME = "weavewave-library.txt"  # says what the folder is, so a typo'd --library is noticed
LOCK_TIMEOUT_S = 600.0  # a write waits this long for another run's write before giving up
# An approximate vector index (IVF-PQ) pays off once the table is this large; below it an exact scan is
# fast (about 20 ms at 10,000 rows on 2 cores) and exact.
INDEX_MIN_ROWS = 5000
INDEX_STALE_SHARE = 0.1  # rebuild the index when this share of rows is not in it
ROWS_PER_PARTITION = 256  # IVF partitions: about sqrt(rows), at least this many rows each
PQ_SUB_VECTORS = 48  # 384 / 48 = 8 dimensions per PQ sub-vector
NPROBES = 20  # IVF partitions searched per query
REFINE_FACTOR = 5  # re-rank this many times the asked-for rows with exact distances


def default_library_dir() -> Path:
    """``$WEAVEWAVE_LIBRARY``, else the user's data folder (``$XDG_DATA_HOME/weavewave/library``, which is
    ``~/.local/share/weavewave/library`` on Linux), as platformdirs would choose it."""
    given = os.environ.get(LIBRARY_ENV)
    if given:
        return Path(given).expanduser()
    base = os.environ.get(XDG_DATA_ENV) or str(Path.home() / ".local" / "share")
    return Path(base) / "weavewave" / "library"


def table_schema(clap: ClapSpace | None = None) -> Any:
    """The table's columns; with ``clap``, also ``clap_vector`` (nullable), its space in the metadata."""
    import pyarrow as pa

    text = pa.list_(pa.string())
    return pa.schema(
        [
            pa.field("id", pa.string()),
            pa.field("content_hash", pa.string()),
            pa.field("path", pa.string()),
            pa.field("size", pa.int64()),
            pa.field("mtime_ns", pa.int64()),
            pa.field("title", pa.string()),
            pa.field("artist", pa.string()),
            pa.field("album", pa.string()),
            pa.field("genre", pa.string()),
            pa.field("genre_from", pa.string()),
            pa.field("instruments", text),
            pa.field("tags", text),
            pa.field("duration_s", pa.float64()),
            pa.field("tempo_bpm", pa.float64()),
            pa.field("key", pa.string()),
            pa.field("key_tonic", pa.string()),
            pa.field("key_mode", pa.string()),
            pa.field("key_correlation", pa.float64()),
            pa.field("meter", pa.string()),
            pa.field("loudness_lufs", pa.float64()),
            pa.field("energy", pa.float64()),
            pa.field("energy_curve", pa.list_(pa.float32())),
            pa.field("brightness_hz", pa.float64()),
            pa.field("onsets_per_s", pa.float64()),
            pa.field("sections", text),
            pa.field("chords", text),
            pa.field("chords_from", pa.string()),
            pa.field("valence", pa.float64()),
            pa.field("arousal", pa.float64()),
            pa.field("mood_tags", text),
            pa.field("caption", pa.string()),
            pa.field("embed_text", pa.string()),
            pa.field("embedder", pa.string()),
            pa.field("text_vector", pa.list_(pa.float32(), TEXT_DIM)),
            pa.field("feature_vector", pa.list_(pa.float32(), FEATURE_DIM)),
            *([clap_field(clap)] if clap is not None else []),
        ]
    )


def clap_field(clap: ClapSpace) -> Any:
    """The ``clap_vector`` column for ``clap``'s space (null for a track not embedded yet)."""
    import pyarrow as pa

    return pa.field(CLAP_COLUMN, pa.list_(pa.float32(), clap.dim), nullable=True, metadata=clap.metadata())


class Library:
    """A library folder and its table. Build one with :func:`open_library`."""

    def __init__(self, folder: Path) -> None:
        import warnings

        from weavewave._deps import require

        # The renderer forks worker processes after a library was read; the children never touch lancedb.
        warnings.filterwarnings("ignore", message="lancedb fork support is experimental")
        lancedb = require("lancedb", "library", "the music library")
        self.folder = folder
        self.db = lancedb.connect(str(folder))
        self._table: Any = None
        self._embedder: str | None = None
        self._pending_clap: ClapSpace | None = None  # the CLAP column a table not created yet will have

    def __repr__(self) -> str:
        return f"Library({str(self.folder)!r}, {self.count()} tracks)"

    # --- the table ---------------------------------------------------------------------------------
    @property
    def table(self) -> Any:
        """The LanceDB table, or None while the library holds no track yet."""
        if self._table is None and TABLE in _table_names(self.db):
            self._table = self.db.open_table(TABLE)
        return self._table

    def count(self) -> int:
        table = self.table
        return 0 if table is None else int(table.count_rows())

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the library's write lock (another run's write is waited for, up to LOCK_TIMEOUT_S)."""
        from filelock import FileLock, Timeout

        try:
            with FileLock(str(self.folder / LOCK_NAME), timeout=LOCK_TIMEOUT_S):
                yield
        except Timeout:
            raise BadInputError(
                f"library {self.folder} is busy: another `weavewave library` run has held it for "
                f"{LOCK_TIMEOUT_S:.0f} s; wait for it, or delete {self.folder / LOCK_NAME} if none is running"
            ) from None

    def known(self) -> dict[str, tuple[str, int, int]]:
        """content hash -> (path, size, mtime_ns) of every stored track (the incremental add's memory)."""
        data = self.rows(columns=("content_hash", "path", "size", "mtime_ns"))
        return {r["content_hash"]: (r["path"], r["size"], r["mtime_ns"]) for r in data}

    def write(self, rows: list[dict[str, Any]]) -> int:
        """Store ``rows`` (under the lock), skipping content already stored; returns how many were new.

        A file whose content changed replaces the row of its old content at the same path.
        """
        import pyarrow as pa

        if not rows:
            return 0
        with self.locked():
            self._table = None
            table = self.table
            clap = self.clap_space()
            # a batch without CLAP vectors leaves the column out (null): LanceDB refuses null vectors given
            embedded = clap is not None and all(r.get(CLAP_COLUMN) is not None for r in rows)
            data = pa.Table.from_pylist(rows, schema=table_schema(clap if embedded else None))
            if table is None:
                self._table = self.db.create_table(TABLE, data=data, schema=data.schema)
                return len(rows)
            before = int(table.count_rows())
            table.merge_insert("content_hash").when_not_matched_insert_all().execute(data)
            for r in rows:
                table.delete(
                    f"path = {sql_literal(r['path'])} AND content_hash != {sql_literal(r['content_hash'])}"
                )
            return int(table.count_rows()) - before

    def update_file(self, digest: str, path: Path) -> None:
        """Point the row of content ``digest`` at ``path`` (moved or touched), with its size and time."""
        st = path.stat()
        with self.locked():
            self._table = None
            self.table.update(where=f"content_hash = {sql_literal(digest)}",
                              values={"path": str(path), "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)})  # fmt: skip

    def remove(self, ids: list[str]) -> list[str]:
        """Remove tracks by id (or content hash, or path); returns the ids removed."""
        table = self.table
        if table is None or not ids:
            return []
        found = [r for r in self.rows(columns=("id", "content_hash", "path")) if _matches(r, ids)]
        if not found:
            return []
        with self.locked():
            self._table = None
            where = " OR ".join(f"content_hash = {sql_literal(r['content_hash'])}" for r in found)
            self.table.delete(where)
        return [r["id"] for r in found]

    def rows(self, *, where: str | None = None, columns: tuple[str, ...] | None = None,
             limit: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """Stored rows (all columns but the vectors unless named), optionally filtered by a SQL ``where``."""
        table = self.table
        if table is None:
            return []
        cols = list(columns) if columns else [c for c in table.schema.names if not c.endswith("_vector")]
        query = table.search().where(where) if where else table.search()
        return query.select(cols).limit(limit or max(1, table.count_rows())).to_list()

    def get(self, ref: str) -> dict[str, Any] | None:
        """The row whose id, content hash or path is ``ref``, with its vectors; None if absent."""
        if self.table is None:
            return None
        where = f"id = {sql_literal(ref)} OR content_hash = {sql_literal(ref)} OR path = {sql_literal(ref)}"
        found = self.table.search().where(where).limit(1).to_list()
        return found[0] if found else None

    def embedder(self) -> str | None:
        """The text embedder the library was built with (``minilm`` or ``words``); None while empty."""
        if self._embedder is None:
            stored = self.rows(columns=("embedder",), limit=1)
            self._embedder = str(stored[0]["embedder"]) if stored else None
        return self._embedder

    # --- CLAP audio embeddings (weavewave.library.clap) ----------------------------------------------
    def clap_space(self) -> ClapSpace | None:
        """The CLAP space of the ``clap_vector`` column (from its metadata); None when there is none."""
        table = self.table
        if table is None:
            return self._pending_clap
        if CLAP_COLUMN not in table.schema.names:
            return None
        return ClapSpace.from_field(table.schema.field(CLAP_COLUMN))

    def use_clap(self, space: ClapSpace) -> None:
        """Give the library a ``clap_vector`` column in ``space`` (added to an existing table, every row
        null until embedded); refused with one line when it already holds another CLAP's embeddings."""
        have = self.clap_space()
        if have is not None:
            if not have.same_weights(space):
                raise BadInputError(
                    f"--clap-model {space.model}: {self.folder} holds CLAP embeddings of {have.model} "
                    f"(weights {have.fingerprint}) and one library holds one CLAP space; use "
                    f"--clap-model {have.model}, or a new --library"
                )
            return
        if self.table is None:
            self._pending_clap = space
            return
        with self.locked():
            self._table = None
            if CLAP_COLUMN not in self.table.schema.names:
                self.table.add_columns(clap_field(space))
            self._table = None

    def set_clap_vectors(self, vectors: dict[str, list[float]]) -> None:
        """Store CLAP embeddings by content hash (rows stored meanwhile by another run are left alone)."""
        import pyarrow as pa

        space = self.clap_space()
        if not vectors or space is None:
            return
        schema = pa.schema([pa.field("content_hash", pa.string()), clap_field(space)])
        data = pa.Table.from_pylist([{"content_hash": k, CLAP_COLUMN: v} for k, v in vectors.items()],
                                    schema=schema)  # fmt: skip
        with self.locked():
            self._table = None
            self.table.merge_insert("content_hash").when_matched_update_all().execute(data)

    def without_clap(self) -> list[dict[str, Any]]:
        """Rows (content hash, path, size, mtime) whose CLAP embedding is not stored yet."""
        if self.clap_space() is None or self.table is None:
            return []
        return self.rows(where=f"{CLAP_COLUMN} IS NULL", columns=("content_hash", "path", "size", "mtime_ns"))

    # --- the vector index ---------------------------------------------------------------------------
    def indexed(self) -> bool:
        table = self.table
        return table is not None and any("text_vector" in i.columns for i in table.list_indices())

    def ensure_index(self, *, force: bool = False) -> bool:
        """Build the IVF-PQ index on ``text_vector`` once the table is large enough, or when much of it is
        unindexed; returns whether one was built. Below :data:`INDEX_MIN_ROWS` searches are exact."""
        from lancedb.index import IvfPq

        table = self.table
        n = 0 if table is None else int(table.count_rows())
        if n < INDEX_MIN_ROWS and not force:
            return False
        if self.indexed() and not force:
            stats = table.index_stats("text_vector_idx")
            unindexed = getattr(stats, "num_unindexed_rows", 0) if stats is not None else 0
            if unindexed < INDEX_STALE_SHARE * n:
                return False
        partitions = max(1, min(int(n**0.5), n // ROWS_PER_PARTITION))
        with self.locked():
            table.create_index(
                "text_vector",
                config=IvfPq(
                    distance_type="cosine", num_partitions=partitions, num_sub_vectors=PQ_SUB_VECTORS
                ),
                replace=True,
            )
        return True

    def nearest(
        self, vector: Any, *, column: str, where: str | None, limit: int, vectors: bool = True
    ) -> list[dict[str, Any]]:
        """The ``limit`` rows nearest ``vector`` by cosine distance in ``column`` (``_distance`` added);
        without their vectors unless ``vectors`` (converting 384 floats a row to Python costs time)."""
        table = self.table
        if table is None:
            return []
        query = table.search(vector, vector_column_name=column).distance_type("cosine")
        if not vectors:
            query = query.select([*(c for c in table.schema.names if not c.endswith("_vector")), "_distance"])
        if column == "text_vector" and self.indexed():
            query = query.nprobes(NPROBES).refine_factor(REFINE_FACTOR)
        if where:
            query = query.where(where, prefilter=True)
        return query.limit(limit).to_list()

    def stats(self) -> dict[str, Any]:
        """Counts and spreads for ``weavewave library stats``."""
        rows = self.rows(columns=("genre", "key_mode", "tempo_bpm", "duration_s", "embedder", "path"))
        clap = self.clap_space()
        genres: dict[str, int] = {}
        for r in rows:
            genres[r["genre"]] = genres.get(r["genre"], 0) + 1
        tempos = sorted(r["tempo_bpm"] for r in rows)
        table = self.table
        return {
            "folder": str(self.folder),
            "tracks": len(rows),
            "hours": round(sum(r["duration_s"] for r in rows) / 3600.0, 2),
            "genres": dict(sorted(genres.items(), key=lambda kv: (-kv[1], kv[0]))),
            "major": sum(r["key_mode"] == "major" for r in rows),
            "minor": sum(r["key_mode"] == "minor" for r in rows),
            "tempo_range": [tempos[0], tempos[-1]] if tempos else [],
            "embedders": sorted({r["embedder"] for r in rows}),
            "missing_files": sum(not Path(r["path"]).exists() for r in rows),
            "vector_index": "IVF-PQ" if self.indexed() else "none (exact search)",
            "clap_model": None if clap is None else clap.model,
            "clap_embedded": 0 if clap is None else len(rows) - len(self.without_clap()),
            "version": None if table is None else int(table.version),
        }


def _table_names(db: Any) -> list[str]:
    listed = db.list_tables()
    return list(getattr(listed, "tables", listed))


def _matches(row: dict[str, Any], refs: list[str]) -> bool:
    return any(ref in (row["id"], row["content_hash"], row["path"]) for ref in refs)


def sql_literal(value: str) -> str:
    """A SQL string literal (single quotes doubled)."""
    return "'" + str(value).replace("'", "''") + "'"


def open_library(
    folder: str | Path | None = None, *, create: bool = False, what: str = "--library"
) -> Library:
    """The library in ``folder`` (default :func:`default_library_dir`). Raises BadInputError, one line, when
    it does not exist (unless ``create``) or is not a library folder."""
    path = Path(folder).expanduser() if folder is not None else default_library_dir()
    marker = path / MARKER_NAME
    if create:
        if path.exists() and not path.is_dir():
            raise BadInputError(f"{what} {path} is a file: give a folder for the library")
        if path.is_dir() and any(path.iterdir()) and not marker.exists():
            raise BadInputError(
                f"{what} {path} holds other files: give a new or empty folder for the library"
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
            if not marker.exists():
                marker.write_text(
                    "A weavewave music library (LanceDB). Manage it with `weavewave library`.\n"
                )
        except OSError as exc:
            raise BadInputError(
                f"{what} {path}: cannot create it ({exc.strerror or exc}); choose another folder"
            ) from None
    elif not path.is_dir():
        raise BadInputError(
            f"{what} {path}: no library there; create one with `weavewave library add MUSIC_FOLDER --library {path}`"
        )
    elif not marker.exists():
        raise BadInputError(f"{what} {path} is not a weavewave library (no {MARKER_NAME}); check the path")
    return Library(path)
