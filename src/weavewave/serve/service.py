"""What the HTTP API and the web UI share: checking inputs, storing uploads, describing, submitting jobs.

Both faces call these functions, so a request from curl and a click in the page take the same path to
:mod:`weavewave.api`. Nothing here imports FastAPI or Gradio.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from weavewave.errors import BadInputError
from weavewave.serve.jobs import job_dir, out_dir
from weavewave.serve.settings import Settings
from weavewave.serve.sniff import EXPECTED, HEAD_BYTES, safe_stem, sniff
from weavewave.serve.store import ACTIVE, Job, JobStore

CONTROL_FIELDS = ("duration", "tempo", "key", "genre", "instruments", "seed")
# The shortest piece (the CLI's too): a brief keeps durations to the millisecond.
MIN_DURATION_S = 0.01
COPY_CHUNK = 1 << 20


class FieldError(BadInputError):
    """Bad input tied to one request field (422 in the API, a message under the form in the UI)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field, self.reason = field_name, message


class UnsupportedMedia(FieldError):
    """An upload whose bytes are not the kind its field takes (415)."""


@dataclass
class Upload:
    """One uploaded file before it is stored: an open binary stream and the name the client gave."""

    stream: IO[bytes]
    filename: str | None = None


@dataclass
class Request:
    """A describe or generate request, whichever face it came through."""

    text: str | None = None
    image: list[Upload] = field(default_factory=list)
    video: Upload | None = None
    audio: Upload | None = None
    brief: str | dict[str, Any] | None = None
    controls: dict[str, Any] = field(default_factory=dict)
    backend: str = "symbolic"
    stems: bool = False
    instruction: str | None = None
    # Neural and restyle options, named as the CLI's flags; see NEURAL_DEFAULTS and check_options.
    options: dict[str, Any] = field(default_factory=dict)


# --- neural and restyle options (--model, --steer, --describer, --refiner, --reference-mode, ...) --------
# The options a request may set, with the values meaning "not asked for"; only the ones that differ from
# these are stored with a job and passed on to ``weavewave.api``.
NEURAL_DEFAULTS: dict[str, Any] = {
    "model": None,
    "steer": "none",
    "describer": "analytic",
    "describer_model": None,
    "refiner": "rules",
    "refiner_model": None,
    "reference_mode": None,
    "keep_audio": False,
    "loop": False,
}
# The options ``api.describe`` takes (the rest only matter when audio is made).
DESCRIBE_OPTIONS = (
    "describer",
    "describer_model",
    "refiner",
    "refiner_model",
    "reference_mode",
    "keep_audio",
    "loop",
)
STEERS = ("none", "symbolic")


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise FieldError(name, f"unknown value {value!r}: use one of {', '.join(allowed)}")


def _located(name: str, ref: str, role: str) -> None:
    """The model must be on this machine (or fetchable): otherwise models' one-line how-to-fetch message."""
    from weavewave.models import locate

    try:
        locate(ref, role)
    except BadInputError as exc:
        raise FieldError(name, str(exc)) from None


def check_options(req: Request) -> dict[str, Any]:
    """Validate the neural and restyle options against each other and the inputs; returns the ones set.

    Every check that can be made before any work is made here, so a bad value is a 422 naming its field
    rather than a job that fails minutes later. A model that is not on the machine is refused the same way,
    with :mod:`weavewave.models`' message saying how to fetch it.
    """
    from weavewave.api import DESCRIBERS, REFINERS
    from weavewave.brief import REFERENCE_MODES
    from weavewave.models import DEFAULT_MELODY_MODEL, DEFAULT_MODEL

    unknown = set(req.options) - set(NEURAL_DEFAULTS)
    if unknown:
        raise FieldError(sorted(unknown)[0], "is not an option this server knows")
    opts = {k: v for k, v in req.options.items() if v not in (None, "") and v != NEURAL_DEFAULTS[k]}
    _choice("steer", opts.get("steer", "none"), STEERS)
    _choice("describer", opts.get("describer", "analytic"), DESCRIBERS)
    _choice("refiner", opts.get("refiner", "rules"), REFINERS)
    if "reference_mode" in opts:
        _choice("reference_mode", opts["reference_mode"], tuple(REFERENCE_MODES))
        if req.audio is None:
            raise FieldError(
                "reference_mode", "says how much of a reference tune to keep: send the tune as audio"
            )
    if opts.get("keep_audio") and req.video is None:
        raise FieldError("keep_audio", "keeps a video's own sound: send the video as video")
    neural_generator = req.backend != "symbolic"
    for name in ("model", "steer"):
        if name in opts and not neural_generator:
            raise FieldError(name, "is for the musicgen backend: also send backend=musicgen")
    if neural_generator:
        if req.stems:
            raise FieldError(
                "stems", "the musicgen backend makes one mixed track and no stems: send stems=false"
            )
        default = DEFAULT_MELODY_MODEL if opts.get("steer") == "symbolic" else DEFAULT_MODEL["generator"]
        _located("model", opts.get("model", default), "generator")
    if opts.get("describer") == "mllm":
        if req.brief is not None:
            raise FieldError("describer", "mllm reads the inputs, and a brief has already been described")
        _located("describer_model", opts.get("describer_model", DEFAULT_MODEL["describer"]), "describer")
    if opts.get("refiner") == "llm":
        if not req.instruction:
            raise FieldError(
                "refiner", "llm rewrites the brief from an instruction: send one, or drop refiner"
            )
        _located("refiner_model", opts.get("refiner_model", DEFAULT_MODEL["refiner"]), "refiner")
    return opts


# --- end neural and restyle options ------------------------------------------------------------------------


def check_request(req: Request) -> dict[str, Any]:
    """Validate everything but the uploads' bytes; returns the cleaned controls. Raises FieldError."""
    from weavewave.bridge import Controls
    from weavewave.brief import MusicBrief
    from weavewave.generators import BACKENDS
    from weavewave.textfile import check_text, loads_json

    controls = {k: v for k, v in req.controls.items() if v is not None and v != ""}
    texts = {"text": req.text, "instruction": req.instruction} | {
        k: controls.get(k) for k in ("key", "genre", "instruments")
    }
    for name, value in texts.items():
        if isinstance(value, str):  # lone surrogates would fail later, writing brief.json, as a 500
            try:
                check_text(value, what="the text")
            except BadInputError as exc:
                raise FieldError(name, str(exc).removeprefix("the text ")) from None
    duration = controls.get("duration")
    if isinstance(duration, float | int) and 0 < duration < MIN_DURATION_S:
        raise FieldError("duration", f"{duration:g} s is too short: use at least {MIN_DURATION_S:g} s")
    for name in CONTROL_FIELDS:
        if name not in controls:
            continue
        one = {"instruments": None} | {name: controls[name]}
        if name == "instruments":
            one["instruments"] = [i for i in (s.strip() for s in str(controls[name]).split(",")) if i]
            if not one["instruments"]:
                raise FieldError(name, "is empty: name at least one instrument, e.g. 'piano, strings'")
        try:
            Controls(**one).validated()
        except BadInputError as exc:
            raise FieldError(name, str(exc)) from None
    if req.backend not in BACKENDS:
        raise FieldError("backend", f"unknown backend {req.backend!r}: use one of {', '.join(BACKENDS)}")
    if req.brief is not None and req.brief != "":
        try:
            data = req.brief if isinstance(req.brief, dict) else loads_json(req.brief, origin="brief")
            brief = MusicBrief.from_dict(data, origin="brief")
        except BadInputError as exc:
            raise FieldError("brief", str(exc).removeprefix("brief: ").removeprefix("brief ")) from None
        req.brief = brief.to_dict()
        if req.text or req.image or req.audio:
            # A video may come with a brief: the brief says what to play, the video gets the soundtrack.
            raise FieldError(
                "brief",
                "send either a brief or text/image/audio inputs, not both: a brief "
                "already holds what the inputs said",
            )
    else:
        req.brief = None
    media = {"image": bool(req.image), "video": req.video is not None, "audio": req.audio is not None}
    if req.instruction is not None and not req.instruction.strip():
        req.instruction = None
    if not (req.text and req.text.strip()) and not any(media.values()) and req.brief is None:
        raise FieldError("text", "nothing to make music from: send text, an image, a video, audio or a brief")
    req.options = check_options(req)
    return controls


def store_upload(upload: Upload, field_name: str, folder: Path, limit_bytes: int) -> Path:
    """Copy an upload into ``folder/<field>/`` after checking its first bytes are that kind of file.

    The stored name is a cleaned stem of the client's name plus the extension of the sniffed format,
    so neither the name nor the claimed type can steer where or how it is read.
    """
    head = upload.stream.read(HEAD_BYTES)
    found = sniff(head)
    if found is None or found[0] != field_name:
        what = f"looks like {found[0]} ({found[1]})" if found else "is not a format weavewave recognises"
        raise UnsupportedMedia(field_name, f"the uploaded file {what}; send {EXPECTED[field_name]}")
    target_dir = folder / field_name
    target_dir.mkdir(parents=True, exist_ok=True)
    stem = safe_stem(upload.filename, field_name)
    target = target_dir / f"{stem}.{found[2]}"
    n = 1
    while target.exists():
        n += 1
        target = target_dir / f"{stem}-{n}.{found[2]}"
    written = len(head)
    with open(target, "wb") as fh:
        fh.write(head)
        while chunk := upload.stream.read(COPY_CHUNK):
            written += len(chunk)
            if written > limit_bytes:
                raise FieldError(field_name, "is larger than the server's upload limit")
            fh.write(chunk)
    return target


def _store_media(req: Request, folder: Path, settings: Settings) -> dict[str, Any]:
    """Store every upload under ``folder``; returns paths relative to it, by field."""
    stored: dict[str, Any] = {"image": [], "video": None, "audio": None}
    for up in req.image:
        stored["image"].append(
            str(store_upload(up, "image", folder, settings.max_upload_bytes).relative_to(folder))
        )
    for name in ("video", "audio"):
        up = getattr(req, name)
        if up is not None:
            stored[name] = str(store_upload(up, name, folder, settings.max_upload_bytes).relative_to(folder))
    return stored


def describe(req: Request, settings: Settings, cache: Any = None) -> dict[str, Any]:
    """The MusicBrief for a request, as JSON-ready data. Uploads live in a temporary folder meanwhile.

    ``cache`` is the server's :class:`~weavewave.models.ModelCache` (None: the process-wide one), so a
    describer or refiner model is loaded once for the server's lifetime, not once per request.
    """
    from weavewave import api
    from weavewave.models import shared_cache

    controls = check_request(req)
    tmp_root = settings.data_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="describe-", dir=tmp_root))
    try:
        media = _store_media(req, folder, settings)
        kwargs: dict[str, Any] = dict(
            controls, text=req.text or None, brief=req.brief, semantic=settings.semantic
        )
        if media["image"]:
            kwargs["image"] = [str(folder / p) for p in media["image"]]
        for name in ("video", "audio"):
            if media[name]:
                kwargs[name] = str(folder / media[name])
        if req.instruction:
            kwargs["instruction"] = req.instruction
        kwargs.update({k: v for k, v in req.options.items() if k in DESCRIBE_OPTIONS})
        if req.options:
            kwargs["cache"] = cache if cache is not None else shared_cache()
        return api.describe(**kwargs).to_dict()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def refine_brief(brief: Any, instruction: str) -> Any:
    """Rewrite a brief with an instruction ("warmer, add strings") through ``weavewave.refine``: the page's
    Refine button."""
    from weavewave.refine import refine

    return refine(brief, instruction)


def submit(req: Request, store: JobStore, settings: Settings) -> Job:
    """Check, store the uploads, and queue a generate job. Raises FieldError or QueueFull."""
    from weavewave.serve.store import new_job_id

    controls = check_request(req)
    job_id = new_job_id()
    folder = job_dir(settings, job_id)
    try:
        media = _store_media(req, folder / "inputs", settings)
        params = {
            "text": req.text or None,
            "brief": req.brief,
            "controls": controls,
            "backend": req.backend,
            "stems": req.stems,
            "instruction": req.instruction,
            "image": [f"inputs/{p}" for p in media["image"]],
            "video": f"inputs/{media['video']}" if media["video"] else None,
            "audio": f"inputs/{media['audio']}" if media["audio"] else None,
            "options": dict(req.options),
        }
        return store.submit(params, max_queue=settings.max_queue, job_id=job_id, brief=req.brief)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def artifact_path(settings: Settings, job: Job, name: str) -> Path | None:
    """The file for an artifact name, or None. Only names the job recorded are served, and only from
    inside its own folder, so '../' and absolute paths lead nowhere."""
    if name not in job.files or "/" in name or "\\" in name or name.startswith("."):
        return None
    folder = out_dir(settings, job.id).resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        return None
    return path


def remove_job(store: JobStore, settings: Settings, job_id: str) -> None:
    """Delete a finished job's row and folder (cancel active ones first)."""
    job = store.get(job_id)
    if job is not None and job.status in ACTIVE:
        raise BadInputError(f"job {job_id} is {job.status}: cancel it before deleting")
    store.delete(job_id)
    shutil.rmtree(job_dir(settings, job_id), ignore_errors=True)


def cleanup(store: JobStore, settings: Settings, now: float | None = None) -> list[str]:
    """Retention: delete jobs that finished more than ``settings.keep_days`` ago. Returns their ids."""
    now = time.time() if now is None else now
    removed = store.expired(now - settings.keep_days * 86400)
    for job_id in removed:
        remove_job(store, settings, job_id)
    tmp_root = settings.data_dir / "tmp"
    if tmp_root.is_dir():  # describe folders left by a crash mid-request
        for leftover in tmp_root.iterdir():
            if now - leftover.stat().st_mtime > 3600:
                shutil.rmtree(leftover, ignore_errors=True)
    return removed


def job_json(job: Job, prefix: str = "/v1") -> dict[str, Any]:
    """A job as the API shows it."""
    return {
        "id": job.id,
        "status": job.status,
        "progress": round(job.progress, 3),
        "message": job.message,
        "brief": job.brief,
        "error": job.error,
        "files": [{"name": n, "url": f"{prefix}/jobs/{job.id}/files/{n}"} for n in job.files],
        "attempts": job.attempts,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }
