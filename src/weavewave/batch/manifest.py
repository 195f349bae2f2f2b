"""Batch manifests: one :class:`~weavewave.request.Request` per row, read from JSON Lines or CSV.

A row holds request fields under the same names as the CLI (without ``--``) and the HTTP API, plus an
optional ``id`` naming its output folder. Input files are paths relative to the manifest, or URLs of any
filesystem fsspec reads (``s3://``, ``gs://``, ``https://``, ``memory://``...). Every row is checked before
any work starts, and all bad rows are reported at once (:class:`ManifestError`).

A row's id, when not given, is a hash of its canonical request (the fields that differ from their
defaults) with every input file replaced by the SHA-256 of its content: the same request over the same
files always gets the same folder, which is what makes a batch resumable and idempotent.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weavewave.errors import BadInputError, FieldError

ID_FIELD = "id"
# Folder-safe ids: a given id becomes a folder name on every filesystem and object store.
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
HASH_ID_CHARS = 16  # 64 bits of SHA-256: no collision in any batch a person would run
HASH_CHUNK = 1 << 20
# CSV cells hold one value; several photos go in one cell separated by this.
CSV_LIST_SEPARATOR = ";"
# What a manifest's rows are: requests (music or briefs), or jobs of another command (batch.tasks).
REQUEST_MODES = ("generate", "describe")
MODES = (*REQUEST_MODES, "annotate", "eval", "library-add")
# Input fields that name files (``brief`` too: a brief.json to vary).
FILE_FIELDS = ("image", "video", "audio", "melody", "soundfont", "brief")
MAX_REPORTED_ERRORS = 20  # a broken manifest of 10,000 rows should not print 10,000 lines


class ManifestError(BadInputError):
    """One or more rows of a manifest are bad; ``errors`` lists ``(row, field, reason)``; nothing ran."""

    def __init__(self, manifest: str, errors: list[tuple[int, str, str]]) -> None:
        self.errors = errors
        shown = [f"  row {row}: {name}: {reason}" for row, name, reason in errors[:MAX_REPORTED_ERRORS]]
        if len(errors) > MAX_REPORTED_ERRORS:
            shown.append(f"  ... and {len(errors) - MAX_REPORTED_ERRORS} more")
        plural = "s" if len(errors) != 1 else ""
        super().__init__(
            f"manifest {manifest}: {len(errors)} bad row{plural}, nothing was run; fix and rerun:\n"
            + "\n".join(shown)
        )


@dataclass
class Row:
    """One checked manifest row: its 1-based number, its output id, and its request fields.

    ``fields`` are JSON-ready request fields with input files as absolute local paths or URLs; a worker
    turns them back into a :class:`~weavewave.request.Request` (:func:`row_request`), fetching URLs first.
    """

    number: int
    id: str
    fields: dict[str, Any]
    mode: str = "generate"  # the task: one of MODES
    inputs: dict[str, str] = field(default_factory=dict)  # file -> sha256, for the record

    def task(self) -> dict[str, Any]:
        """What a worker needs, as JSON-ready data."""
        return {"row": self.number, "id": self.id, "fields": self.fields, "mode": self.mode}


def is_url(value: str) -> bool:
    """``scheme://...`` (but not a Windows drive letter such as ``C:\\``)."""
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", value))


def read_rows(text: str, name: str) -> list[tuple[int, dict[str, Any] | str]]:
    """The manifest's rows as ``(row, data)``; ``data`` is an error reason where a row does not parse.

    JSON Lines when the name ends in ``.jsonl``/``.ndjson`` or the first non-blank character is ``{``,
    else CSV with a header row. Blank lines are skipped and not counted.
    """
    stripped = text.lstrip("\ufeff")
    lower = name.lower()
    jsonl = lower.endswith((".jsonl", ".ndjson", ".json")) or (
        not lower.endswith(".csv") and stripped.lstrip().startswith("{")
    )
    rows: list[tuple[int, dict[str, Any] | str]] = []
    if jsonl:
        for line in stripped.splitlines():
            if not line.strip():
                continue
            number = len(rows) + 1
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                rows.append((number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
                continue
            rows.append(
                (number, data if isinstance(data, dict) else "is not a JSON object of request fields")
            )
        return rows
    reader = csv.DictReader(io.StringIO(stripped))
    if not reader.fieldnames:
        return rows
    for data in reader:
        number = len(rows) + 1
        if None in data:  # more cells than the header has names
            rows.append((number, "has more cells than the header names"))
            continue
        values = {k.strip(): v for k, v in data.items() if k and v is not None and v.strip() != ""}
        if not values:
            continue
        if "image" in values:
            values["image"] = [p.strip() for p in values["image"].split(CSV_LIST_SEPARATOR) if p.strip()]
        rows.append((number, values))
    return rows


def load_manifest(
    path: str | os.PathLike[str], *, mode: str = "generate", check_files: bool = True
) -> list[Row]:
    """Read and check every row of the manifest at ``path``. Raises ManifestError listing all bad rows.

    ``check_files``: input files must exist and be readable (local) or exist (URLs); their content is
    hashed for the row ids either way.
    """
    from weavewave.io.text import read_text_file

    source = os.fspath(path)
    text = _read_manifest_text(source, read_text_file)
    base = source.rsplit("/", 1)[0] if is_url(source) else str(Path(source).resolve().parent)
    return check_rows(read_rows(text, source), source, base=base, mode=mode, check_files=check_files)


def _read_manifest_text(source: str, read_text_file: Any) -> str:
    if is_url(source):
        fsspec = fsspec_module()
        try:
            with fsspec.open(source, "rt", encoding="utf-8") as fh:
                return str(fh.read())
        except (OSError, ValueError) as exc:
            raise BadInputError(f"manifest {source}: cannot read it ({exc}); check the URL") from None
    return str(read_text_file(source, what="manifest"))


def check_rows(
    rows: Iterable[tuple[int, dict[str, Any] | str]],
    source: str,
    *,
    base: str | None,
    mode: str = "generate",
    check_files: bool = True,
    resolve: Any = None,
) -> list[Row]:
    """Check parsed rows; ``resolve(field, value) -> str`` maps an input name to a local path or URL (by
    default: relative to ``base``). Raises ManifestError with every bad row."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    errors: list[tuple[int, str, str]] = []
    checked: list[Row] = []
    seen: dict[str, int] = {}
    parsed = list(rows)
    if not parsed:
        raise BadInputError(f"manifest {source} has no rows: write one request per line (JSON Lines or CSV)")
    digests: dict[str, str] = {}
    for number, data in parsed:
        if isinstance(data, str):
            errors.append((number, "row", data))
            continue
        try:
            if mode in REQUEST_MODES:
                row = _check_row(number, data, base=base, mode=mode, check_files=check_files, resolve=resolve,
                                 digests=digests)  # fmt: skip
            else:
                row = _check_task_row(number, data, base=base, mode=mode, check_files=check_files,
                                      digests=digests)  # fmt: skip
        except FieldError as exc:
            errors.append((number, exc.field, exc.reason))
            continue
        except BadInputError as exc:
            errors.append((number, "row", str(exc)))
            continue
        if row.id in seen:
            what = "request" if mode in REQUEST_MODES else f"{mode} job"
            how = "the same id" if ID_FIELD in data else f"the same {what} (and input files)"
            errors.append((number, ID_FIELD, f"{how} as row {seen[row.id]}: give each row its own id, or drop "
                           "the duplicate"))  # fmt: skip
            continue
        seen[row.id] = number
        checked.append(row)
    if errors:
        raise ManifestError(source, errors)
    return checked


def _check_row(
    number: int,
    data: dict[str, Any],
    *,
    base: str | None,
    mode: str,
    check_files: bool,
    resolve: Any,
    digests: dict[str, str],
) -> Row:
    from weavewave.request import Request

    values = {k: v for k, v in data.items() if v is not None}
    given_id = _given_id(values.pop(ID_FIELD, None))
    if isinstance(values.get("brief"), str) and values["brief"].lstrip().startswith("{"):
        from weavewave.io.text import loads_json

        try:  # a brief given inline as JSON text (a CSV cell): data, like a JSON Lines object
            values["brief"] = loads_json(values["brief"], origin="brief")
        except BadInputError as exc:
            raise FieldError("brief", str(exc).removeprefix("brief: ")) from None
    for name in FILE_FIELDS:
        if name not in values or (name == "brief" and isinstance(values[name], dict)):
            continue
        value = values[name]
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) and v for v in items):
            raise FieldError(name, "give a file path (relative to the manifest) or a URL")
        where = [_resolve(name, v, base, resolve) for v in items]
        if check_files:
            for w in where:
                _check_input(name, w)
        values[name] = (
            where if isinstance(value, list) or name == "image" else where[0]
        )  # image: a list field
    hashes = {w: digests.get(w) or digests.setdefault(w, file_digest(w)) for w in _files(values)}
    brief_value = values.get("brief")
    request_values = dict(values)
    if isinstance(brief_value, str):
        request_values["brief"] = read_brief_text(brief_value)
    request = Request.build(request_values)
    if check_files:
        request.check_models()
    fields = dict(request.given())
    for name in FILE_FIELDS:  # keep the resolved locations, not the brief's parsed data or a normalised form
        if name in values and not (name == "brief" and isinstance(brief_value, dict)):
            fields[name] = values[name]
    row_id = given_id or request_id(request, hashes, mode, values)
    return Row(number=number, id=row_id, fields=fields, mode=mode, inputs=hashes)


def _check_task_row(
    number: int,
    data: dict[str, Any],
    *,
    base: str | None,
    mode: str,
    check_files: bool,
    digests: dict[str, str],
) -> Row:
    from weavewave.batch.tasks import check_task_row

    values = {k: v for k, v in data.items() if v is not None}
    given_id = _given_id(values.pop(ID_FIELD, None))
    fields, content_id = check_task_row(mode, values, base=base, check_files=check_files, digests=digests)
    return Row(number=number, id=given_id or content_id, fields=fields, mode=mode)


def _given_id(given_id: Any) -> str | None:
    """A row's own id, checked: it names a folder."""
    if given_id is None:
        return None
    given_id = str(given_id)
    if not ID_PATTERN.match(given_id):
        raise FieldError(ID_FIELD, f"{given_id!r} cannot name a folder: use letters, digits, '.', '_' "
                         "and '-', starting with a letter or digit (up to 128)")  # fmt: skip
    return given_id


def _files(values: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for name in FILE_FIELDS:
        value = values.get(name)
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list):
            found.extend(value)
    return found


def _resolve(name: str, value: str, base: str | None, resolve: Any) -> str:
    if resolve is not None:
        return str(resolve(name, value))
    if is_url(value):
        return value
    if base is None:
        raise FieldError(name, f"{value}: give a URL; paths are not taken here")
    if is_url(base):
        return f"{base}/{value}"
    return str((Path(base) / os.path.expanduser(value)).resolve())


def _check_input(name: str, where: str) -> None:
    if is_url(where):
        fs, path = fsspec_module().core.url_to_fs(where)
        try:
            ok = fs.isfile(path)
        except Exception as exc:  # a filesystem's own errors (auth, network) vary by backend
            raise FieldError(name, f"{where}: cannot reach it ({type(exc).__name__}: {exc})") from None
        if not ok:
            raise FieldError(name, f"{where}: no such file; check the URL")
        return
    from weavewave.request import check_readable

    check_readable(name, where)


def file_digest(where: str) -> str:
    """The SHA-256 of a local file's or a URL's content (``"missing"`` when it cannot be read: the
    row is refused elsewhere, or will fail on its own)."""
    digest = hashlib.sha256()
    try:
        opener = fsspec_module().open(where, "rb") if is_url(where) else open(where, "rb")
        with opener as fh:
            while chunk := fh.read(HASH_CHUNK):
                digest.update(chunk)
    except (OSError, ValueError):
        return "missing"
    return digest.hexdigest()


def read_brief_text(where: str) -> str:
    """A brief.json's text from a local path or URL (JSON text is passed through)."""
    if where.lstrip().startswith("{"):
        return where
    if is_url(where):
        with fsspec_module().open(where, "rt", encoding="utf-8") as fh:
            return str(fh.read())
    from weavewave.io.text import read_text_file

    return str(read_text_file(where, what="brief file"))


def request_id(request: Any, hashes: dict[str, str], mode: str, located: dict[str, Any]) -> str:
    """The stable id of a request: a hash of its canonical JSON with input files as content hashes."""
    canonical = request.given()
    for name in FILE_FIELDS:
        value = located.get(name)
        if name == "brief" and not isinstance(value, str):
            continue  # an inline brief is hashed as data
        if isinstance(value, list):
            canonical[name] = [hashes[v] for v in value]
        elif isinstance(value, str):
            canonical[name] = hashes[value]
    text = json.dumps({"mode": mode, "request": canonical}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_ID_CHARS]


def row_request(fields: dict[str, Any], fetch_dir: str | None = None) -> Any:
    """The :class:`~weavewave.request.Request` of a row's fields; URL inputs are copied into ``fetch_dir``."""
    from weavewave.request import Request

    values = dict(fields)
    for name in FILE_FIELDS:
        value = values.get(name)
        if value is None or (name == "brief" and isinstance(value, dict)):
            continue
        if name == "brief":
            values[name] = read_brief_text(value)
            continue
        items = value if isinstance(value, list) else [value]
        local = [_fetch(v, fetch_dir, name) if is_url(v) else v for v in items]
        values[name] = local if isinstance(value, list) else local[0]
    return Request.build(values)


def _fetch(url: str, fetch_dir: str | None, name: str) -> str:
    """Copy a URL's file to a local folder (the readers need real files), keeping its extension."""
    import tempfile

    folder = fetch_dir or tempfile.mkdtemp(prefix="weavewave-fetch-")
    suffix = Path(url.split("?", 1)[0]).suffix
    target = Path(folder) / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}{suffix}"
    if not target.exists():
        try:
            fs, path = fsspec_module().core.url_to_fs(url)
            fs.get_file(path, str(target))
        except Exception as exc:  # network or auth errors vary by filesystem
            raise FieldError(name, f"{url}: cannot fetch it ({type(exc).__name__}: {exc})") from None
    return str(target)


def fsspec_module() -> Any:
    """fsspec, or one clear error naming the extra that installs it."""
    from weavewave._deps import require

    return require("fsspec", "batch", "a manifest with URLs (or a URL --out)")
