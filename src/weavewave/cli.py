"""The ``weavewave`` command. Heavy modules are imported inside commands so ``--help`` is instant."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2

EPILOG = """examples:
  weavewave generate --text "a rainy night in Tokyo, lo-fi, 80 bpm" --out rain
  weavewave generate --image photo.jpg --duration 45 --stems --out photo
  weavewave generate --video clip.mp4 --out scored      # music on the cuts, and video.mp4
  weavewave generate --text "calm piano" --duration 16 --loop --out loop
  weavewave describe --text "a sunrise over the sea" > brief.json   # edit it, then:
  weavewave generate --brief brief.json --seed 7 --out sunrise
  weavewave generate --audio tune.wav --instruction "as a gentle lullaby on music box" --out lullaby
  weavewave schema > brief.schema.json
  weavewave generate --text "a folk dance in D" --candidates 4 --rerank adherence --out best
  weavewave eval out/ --reference my-music/ --out report
  weavewave batch pieces.jsonl --out pieces          # one request per line; rerun to resume
"""


class Progress:
    """Progress on stderr: a redrawn bar on a terminal, one line per stage otherwise.

    Nothing is shown during the first second, so quick commands and early input errors stay quiet.
    """

    QUIET_FOR_S = 1.0

    def __init__(self, stream: TextIO, enabled: bool = True) -> None:
        self.stream, self.enabled = stream, enabled
        self.tty = stream.isatty()
        self.start = time.perf_counter()
        self.last_message = ""
        self.shown = False

    def __call__(self, fraction: float, message: str) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        if elapsed < self.QUIET_FOR_S:
            return
        self.shown = True
        if self.tty:
            filled = int(24 * max(0.0, min(1.0, fraction)))
            bar = "#" * filled + "." * (24 - filled)
            self.stream.write(f"\r[{bar}] {fraction * 100:3.0f}% {elapsed:5.1f}s {message[:40]:<40}")
            self.stream.flush()
        elif message != self.last_message:
            self.stream.write(f"[{fraction * 100:3.0f}% {elapsed:5.1f}s] {message}\n")
        self.last_message = message

    def done(self) -> None:
        if self.shown and self.tty:
            self.stream.write("\n")


def _add_request_options(p: argparse.ArgumentParser, command: str) -> None:
    """The options of ``command`` (describe or generate), one per field of :class:`weavewave.request.Request`.

    Names, help, metavars and choices all come from the request model, so the CLI cannot drift from the
    Python and HTTP faces. Every option defaults to "not given" (None); the request fills its defaults.
    """
    from weavewave.generators import BACKENDS
    from weavewave.request import GROUPS, Request, choices, cli_flag

    groups: dict[str, argparse._ArgumentGroup] = {}
    for group, (title, commands) in GROUPS.items():
        if command in commands:
            groups[group] = p.add_argument_group(title)
    for name, info in Request.model_fields.items():
        extra = info.json_schema_extra
        assert isinstance(extra, dict)
        target = groups.get(str(extra["group"]))
        if target is None:
            continue
        kwargs: dict[str, Any] = {"help": info.description, "default": None, "dest": name}
        if extra.get("metavar"):
            kwargs["metavar"] = extra["metavar"]
        kind = info.annotation
        allowed = BACKENDS if name == "backend" else choices(name)
        if kind is bool:
            kwargs["action"] = "store_true"
        elif name in ("image", "reference_track", "adapter_embed"):
            kwargs["action"] = "append"
        elif allowed:
            kwargs["choices"] = allowed
        elif _is(kind, int):
            kwargs["type"] = int
        elif _is(kind, float):
            kwargs["type"] = float
        if name == "text":
            kwargs["help"] += "; '@FILE' reads it from a text file"
        target.add_argument(cli_flag(name), **kwargs)


def _is(kind: Any, python_type: type) -> bool:
    import typing

    return kind is python_type or python_type in typing.get_args(kind)


def build_parser() -> argparse.ArgumentParser:
    from weavewave import __version__

    parser = argparse.ArgumentParser(
        prog="weavewave",
        description="Turn a sentence, a story, a photo, a video or a reference tune into finished music: "
        "audio, MIDI, stems and an editable brief. Offline, on a CPU.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"weavewave {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gen = sub.add_parser(
        "generate",
        help="make music and write it to --out",
        description="Make a piece and write music.wav, music.mid and brief.json into --out.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_request_options(gen, "generate")
    o = gen.add_argument_group("where to write")
    o.add_argument("--out", default="out", metavar="DIR", help="output folder (default: ./out)")
    o.add_argument("--force", action="store_true", help="overwrite existing files in --out")
    gen.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")

    desc = sub.add_parser(
        "describe",
        help="print the MusicBrief JSON the music would be made from",
        description="Print the MusicBrief as JSON on stdout. No audio is made.",
    )
    _add_request_options(desc, "describe")
    desc.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    sub.add_parser("schema", help="print the JSON Schema of brief.json")
    _add_eval_parser(sub)
    _add_serve(sub)  # serve: see the serve block below
    models = sub.add_parser(
        "models",
        help="list the neural models weavewave knows and which are here",
        description="The known model ids per role (--model, --describer-model, "
        "--refiner-model), with size, licence and whether each is on this machine.",
    )
    models.add_argument("--json", action="store_true", help="print JSON instead of a table")
    models.add_argument(
        "--adapters",
        action="append",
        metavar="DIR",
        help="also look for LoRA adapters under DIR (repeatable; default: the current folder and "
        "$WEAVEWAVE_ADAPTERS)",
    )
    _add_train_parsers(sub)
    warm = sub.add_parser(
        "warmup",
        help="compile the audio analysis (numba JIT) once, before parallel use",
        description="Compile librosa's JIT functions into weavewave's per-version cache, "
        "serially and under a file lock, so later parallel runs only read it. "
        "Run once after installing; the server does it before starting workers.",
    )
    warm.add_argument("--force", action="store_true", help="delete this version's cache and compile again")
    _add_library(sub)
    _add_batch(sub)
    return parser


# --- `weavewave batch` ---------------------------------------------------------------------------------
BATCH_EPILOG = """examples:
  weavewave batch pieces.jsonl --out pieces            # one request per line, e.g. {"text": "calm piano"}
  weavewave batch pieces.csv --out pieces --workers 4  # CSV: a header of field names (image: a;b for two)
  weavewave batch pieces.jsonl --describe --out briefs # brief.json only, no audio
  weavewave batch albums.jsonl --task annotate --out datasets  # {"music": "album1/", "licence": "mine"}
  weavewave batch runs.jsonl --task eval --out reports  # {"paths": "pieces/", "reference": "real/"}
  weavewave batch pieces.jsonl --ray --out pieces      # a local Ray instance (pip install 'weavewave[ray]')
  weavewave batch s3://b/m.jsonl --ray ray://head:10001 --out s3://b/pieces --gpus-per-worker 1

Rerun the same command to resume: finished rows are skipped. Exit code 0 when every row succeeded,
1 when some failed (see OUT/results.jsonl), 2 when the manifest is bad (nothing is run).
"""


def _add_batch(sub: Any) -> None:
    b = sub.add_parser(
        "batch",
        help="make a manifest of requests (JSON Lines or CSV), resumable, locally or on Ray",
        description="Run one request per manifest row (fields named as generate's options, plus an "
        "optional id) into OUT/<id>/, with OUT/results.jsonl recording each row. Every row is "
        "checked before anything runs; finished rows are skipped, so rerunning resumes.",
        epilog=BATCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument("manifest", metavar="MANIFEST", help="a .jsonl or .csv file (or fsspec URL) of requests")
    b.add_argument("--out", required=True, metavar="DIR", help="output folder or fsspec URL")
    b.add_argument(
        "--describe", action="store_true", help="write brief.json only (no audio); as --task describe"
    )
    b.add_argument("--task", choices=("generate", "describe", "annotate", "eval", "library-add"), default=None,
                   help="what each row is (default generate): a request, or the fields of an annotate, eval "
                   "or library add command (see docs/BATCH.md)")  # fmt: skip
    b.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes, or Ray actors (default: the number of cores)")  # fmt: skip
    b.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run on Ray: a local instance, or the cluster at ADDRESS (needs weavewave[ray])")  # fmt: skip
    b.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="N",
                   help="GPUs each Ray actor reserves, for neural backends (default 0)")  # fmt: skip
    b.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _cmd_batch(args: argparse.Namespace) -> int:
    import math

    from weavewave.batch import load_manifest, run_batch
    from weavewave.errors import BadInputError

    if args.workers is not None and args.workers < 1:
        raise BadInputError(f"--workers {args.workers}: give at least 1")
    if not math.isfinite(args.gpus_per_worker) or args.gpus_per_worker < 0:
        raise BadInputError(f"--gpus-per-worker {args.gpus_per_worker:g}: give 0 or more")
    if args.gpus_per_worker and args.ray is None:
        raise BadInputError("--gpus-per-worker is for Ray actors: also give --ray")
    if args.describe and args.task not in (None, "describe"):
        raise BadInputError(f"--describe is --task describe: drop one of --describe and --task {args.task}")
    rows = load_manifest(args.manifest, mode="describe" if args.describe else args.task or "generate")
    summary = run_batch(rows, args.out, workers=args.workers, ray=args.ray,
                        gpus_per_worker=args.gpus_per_worker, progress=not args.quiet)  # fmt: skip
    print(summary.line())
    for rec in summary.records:
        if rec.get("status") != "ok":
            print(f"  row {rec['row']} ({rec['id']}): {rec.get('error')}")
    print(f"  results: {args.out.rstrip('/')}/results.jsonl")
    return EXIT_OK if summary.ok else EXIT_INTERNAL


def _cmd_warmup(args: argparse.Namespace) -> int:
    import time

    from weavewave import jitcache

    folder = jitcache.configure()
    started = time.monotonic()
    compiled = jitcache.librosa_available() and jitcache.ensure_warm(force=args.force)
    if not jitcache.librosa_available():
        print("weavewave: librosa is not installed; nothing to compile (audio inputs need weavewave[audio])")
    elif compiled:
        print(f"weavewave: audio analysis compiled in {time.monotonic() - started:.1f} s into {folder}")
    else:
        print(f"weavewave: audio analysis already compiled in {folder}")
    return EXIT_OK


# --- evaluation: `weavewave eval` ---------------------------------------------------------------
EVAL_EPILOG = """examples:
  weavewave eval out/ --out report              # adherence, MIDI metrics and pictures
  weavewave eval out/ --reference real/ --out report   # plus fad[features] and fad_inf[features]
  weavewave eval runs.jsonl --reference real/ --embedder features --embedder clap --clap-model DIR --out r
  weavewave eval out/ --reference real/ --embedder encodec --encodec-model DIR --out r   # fad[encodec-...]
"""


def _add_eval_parser(sub: Any) -> None:
    ev = sub.add_parser(
        "eval",
        help="measure generated music against its briefs and a reference set",
        description="Find folders holding music.wav and brief.json (recursively) or read a "
        "JSONL manifest; write results.json, report.md, report.html and "
        "pictures into --out.",
        epilog=EVAL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ev.add_argument("paths", nargs="+", metavar="PATH", help="output folders or .jsonl manifests")
    ev.add_argument(
        "--reference",
        metavar="SET",
        help="folder of audio files (or manifest) to compare with: FAD, FAD-inf and tag KL",
    )
    ev.add_argument("--out", default="eval", metavar="DIR", help="report folder (default: ./eval)")
    ev.add_argument(
        "--embedder",
        action="append",
        choices=("features", "clap", "encodec"),
        help="FAD embedder, repeatable (default: features, which needs no weights)",
    )
    ev.add_argument(
        "--clap-model",
        metavar="ID|DIR",
        help="CLAP weights: enables the CLAP score (and tag KL with --reference)",
    )
    ev.add_argument(
        "--clip-model",
        metavar="ID|DIR",
        help="CLIP weights: with --clap-model, image-music alignment for pieces made from photos",
    )
    ev.add_argument(
        "--images",
        metavar="DIR",
        help="folder of the photos the pieces were made from (found by the name in brief.json), "
        "for image-music alignment of output folders; manifests name their images",
    )
    ev.add_argument(
        "--encodec-model",
        metavar="ID|DIR",
        help="EnCodec weights for --embedder encodec (default: facebook/encodec_24khz)",
    )
    ev.add_argument("--no-plots", action="store_true", help="skip the pictures (faster)")
    ev.add_argument("--force", action="store_true", help="overwrite an existing report in --out")
    ev.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def _cmd_eval(args: argparse.Namespace) -> int:
    from weavewave.evaluate.report import evaluate

    progress = Progress(sys.stderr, enabled=not args.quiet)
    results = evaluate(
        args.paths,
        reference=args.reference,
        out=args.out,
        embedders=tuple(args.embedder or ("features",)),
        clap_model=args.clap_model,
        clip_model=args.clip_model,
        embedder_models={"encodec": args.encodec_model},
        images=args.images,
        plots=not args.no_plots,
        force=args.force,
        progress=progress,
    )
    progress.done()
    s = results["summary"]
    print(f"evaluated {s['tracks']} tracks; wrote {args.out}/results.json, report.md and report.html")
    shown = [
        f"tempo Acc1 {s['tempo_acc1']:.2f}" if "tempo_acc1" in s else "",
        f"key MIREX {s['key_mirex']:.2f}" if "key_mirex" in s else "",
        f"loudness {s['lufs_mean']:.1f} ± {s['lufs_std']:.1f} LUFS" if "lufs_mean" in s else "",
    ]
    shown += [
        f"{k} {v:.3g}"
        for k, v in results.get("distribution", {}).items()
        if k.startswith(("fad", "kl")) and isinstance(v, float)
    ]
    print("  " + ", ".join(x for x in shown if x))
    return EXIT_OK


# --- end evaluation ----------------------------------------------------------------------------


def _read_text(value: str | None) -> str | None:
    from weavewave.io.text import check_text, read_text_file

    if value is None or not value.startswith("@"):
        return None if value is None else check_text(value, what="--text")
    return read_text_file(value[1:], what="text file")


def _check_out_writable(out: str) -> None:
    """--out can be created and written, checked before rendering (it used to fail after a full render).

    The nearest existing folder on the way must be a folder we can create a file in; nothing is left there.
    """
    import tempfile
    from pathlib import Path

    from weavewave.errors import BadInputError

    target = Path(out)
    probe = target
    while not probe.exists() and probe != probe.parent:
        if probe.is_symlink():  # a dangling link: creating through it would land elsewhere
            raise BadInputError(f"--out {out}: {probe} is a broken link; choose another folder")
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise BadInputError(f"--out {out}: {probe} is a file, not a folder; choose another --out")
    try:
        fd, name = tempfile.mkstemp(prefix=".weavewave-probe-", dir=probe)
    except OSError as exc:
        raise BadInputError(
            f"--out {out}: cannot write in {probe} ({exc.strerror or exc}); choose a folder you can write to"
        ) from None
    os.close(fd)
    os.unlink(name)


def _request(args: argparse.Namespace) -> Any:
    """The checked :class:`~weavewave.request.Request` of a describe or generate command line."""
    from weavewave.request import Request

    given = {name: getattr(args, name) for name in Request.model_fields if hasattr(args, name)}
    given["text"] = _read_text(given.get("text"))
    return Request.build(given)


def _cmd_generate(args: argparse.Namespace) -> int:
    from weavewave import api
    from weavewave.export.track import check_out_dir, planned_files

    progress = Progress(sys.stderr, enabled=not args.quiet)
    request = _request(args)
    # Refuse to overwrite, or to render into a folder that cannot be written, before doing any work.
    _check_out_writable(args.out)
    check_out_dir(args.out, planned_files(True, request.format, video=bool(request.video)), force=args.force)
    track = api.generate(request, progress=lambda f, m: progress(0.95 * f, m))
    progress(0.97, "writing files")
    written = api.save(track, request, args.out, force=args.force)
    progress(1.0, "done")
    progress.done()
    stats = track.stats
    lufs = stats.get("lufs")
    print(
        f"wrote {len(written)} files to {args.out}/: "
        + ", ".join(str(p.relative_to(args.out)) for p in written if p.parent.name != "stems")
        + (f" and {sum(p.parent.name == 'stems' for p in written)} stems" if request.stems else "")
    )
    print(f"  {track.brief.summary()}")
    loud = f"{lufs:.1f} LUFS" if lufs is not None else "silent"
    peak = stats.get("true_peak_dbfs")  # None for silence, or a piece shorter than a loudness block
    print(
        f"  {track.duration_s:.2f} s, {loud}, true peak "
        + (f"{peak:.1f} dBFS" if peak is not None else "n/a")
    )
    if stats.get("generator") == "flow":
        print(
            f"  {stats['model']} ({stats['condition']}), {stats['solver']} {stats['steps']} steps, guidance "
            f"{stats['guidance']:g}, {len(stats['windows'])} windows"
        )
    if stats.get("generator") == "musicgen":
        print(
            f"  {stats['model']} on {stats['device']}, {stats['decoder']} decoder, {len(stats['windows'])} windows"
            + (f", adapter {stats['adapter']}" if stats.get("adapter") else "")
        )
    return EXIT_OK


def _cmd_describe(args: argparse.Namespace) -> int:
    from weavewave.api import describe

    progress = Progress(sys.stderr, enabled=not args.quiet)
    brief = describe(_request(args), progress=progress)
    progress.done()
    sys.stdout.write(brief.to_json())
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:
    from weavewave.brief import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")
    return EXIT_OK


# --- serve (HTTP API and web UI) --------------------------------------------------------------------
# The largest --max-upload-mb: 1 TiB is past any media file, and keeps the byte count an exact integer.
MAX_UPLOAD_MB = 1024 * 1024


def _add_serve(sub: Any) -> None:
    from weavewave.serve.settings import DEFAULT_HOST, DEFAULT_PORT

    srv = sub.add_parser(
        "serve",
        help="start the web UI and HTTP API (default http://127.0.0.1:7860)",
        description="Start the web page and the HTTP API in one server. Jobs persist in "
        "--data-dir, so a restart loses nothing. Stop it with Ctrl-C or SIGTERM: "
        "running jobs are re-queued and finish after the next start.",
    )
    srv.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to bind (default {DEFAULT_HOST}); any other needs --token",
    )
    srv.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    srv.add_argument(
        "--token",
        default=None,
        help="API token: clients send 'Authorization: Bearer TOKEN'; the page asks for it as the "
        "password. Prefer $WEAVEWAVE_TOKEN or --token-file: a command line is visible to every local user",
    )
    srv.add_argument(
        "--token-file",
        metavar="FILE",
        help="read the API token from FILE (its first line), e.g. a secret mount",
    )
    srv.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer to this Host name (repeatable; '*' for any). On loopback only localhost, "
        "127.0.0.1 and [::1] are answered, which stops DNS-rebinding pages",
    )
    srv.add_argument(
        "--reset-jobs", action="store_true", help="start with no jobs, keeping a damaged database aside"
    )
    srv.add_argument(
        "--restore-jobs",
        action="store_true",
        help="put back the jobs database saved at the last clean start (after damage)",
    )
    srv.add_argument("--workers", type=int, default=2, help="generate jobs run in parallel (default 2)")
    srv.add_argument(
        "--data-dir",
        default="weavewave-data",
        metavar="DIR",
        help="jobs database, uploads and artifacts (default ./weavewave-data)",
    )
    srv.add_argument("--max-queue", type=int, default=32, help="queued jobs before 429 (default 32)")
    srv.add_argument("--max-upload-mb", type=float, default=64.0, help="largest upload in MiB (default 64)")
    srv.add_argument(
        "--keep-days", type=float, default=7.0, help="delete finished jobs after this (default 7)"
    )
    srv.add_argument(
        "--job-timeout",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="a job running longer is stopped and failed (default 3600)",
    )
    srv.add_argument(
        "--text-model",
        choices=("auto", "minilm", "lexicon"),
        default="auto",
        help="how to read text, as for generate",
    )
    srv.add_argument("--no-ui", action="store_true", help="serve the HTTP API only")


# A token file readable by others is no secret: warn when its mode allows group or other access.
PRIVATE_FILE_MODE_MASK = 0o077
# Longest token file read: a token is a line, not a document.
MAX_TOKEN_FILE_BYTES = 4096


def _serve_token(args: argparse.Namespace) -> str | None:
    """The server's token: ``--token-file``, else ``--token`` (with a warning), else ``$WEAVEWAVE_TOKEN``."""
    from weavewave.errors import BadInputError

    if args.token_file and args.token:
        raise BadInputError("give the token once: --token or --token-file, not both")
    if args.token_file:
        path = Path(args.token_file)
        try:
            if not path.is_file():
                raise BadInputError(f"--token-file {path}: not a file; give a file holding the token")
            with path.open("rb") as fh:
                text = fh.read(MAX_TOKEN_FILE_BYTES).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInputError(f"--token-file {path}: cannot read it ({exc}); check the path") from None
        token = text.strip().splitlines()[0].strip() if text.strip() else ""
        if not token:
            raise BadInputError(f"--token-file {path} is empty: write the token on its first line")
        if path.stat().st_mode & PRIVATE_FILE_MODE_MASK:
            sys.stderr.write(
                f"weavewave: warning: --token-file {path} can be read by other users; `chmod 600` it\n"
            )
        return token
    if args.token:
        sys.stderr.write(
            "weavewave: warning: --token on the command line is visible to every local user in the "
            "process list; use WEAVEWAVE_TOKEN=... or --token-file FILE instead\n"
        )
        return str(args.token)
    return os.environ.get("WEAVEWAVE_TOKEN") or None


def _cmd_serve(args: argparse.Namespace) -> int:
    import math

    from weavewave.errors import BadInputError
    from weavewave.serve.settings import MiB, Settings

    if not math.isfinite(args.max_upload_mb) or args.max_upload_mb > MAX_UPLOAD_MB:
        raise BadInputError(
            f"--max-upload-mb {args.max_upload_mb:g} is not a usable size: use a number of MiB "
            f"up to {MAX_UPLOAD_MB}"
        )

    settings = Settings(
        allow_hosts=tuple(args.allow_host),
        reset_jobs=args.reset_jobs,
        restore_jobs=args.restore_jobs,
        data_dir=args.data_dir,
        workers=args.workers,
        max_queue=args.max_queue,
        max_upload_bytes=int(args.max_upload_mb * MiB),
        keep_days=args.keep_days,
        token=_serve_token(args),
        host=args.host,
        port=args.port,
        text_model=args.text_model,
        ui=not args.no_ui,
        job_timeout_s=args.job_timeout,
    ).validated()
    from weavewave.serve.run import serve

    serve(settings)
    return EXIT_OK


# --- end serve -----------------------------------------------------------------------------------------


# --- `weavewave annotate` and `weavewave train` (issue 15) ---------------------------------------------
TRAIN_EPILOG = """examples:
  weavewave annotate my-music/ --out my-dataset --licence "CC-BY 4.0, my own recordings"
  weavewave train musicgen --data my-dataset --model facebook/musicgen-small --out my-adapter --trigger mysound
  weavewave train musicgen --data my-dataset --model facebook/musicgen-small --out my-adapter --resume
  weavewave generate --backend musicgen --model facebook/musicgen-small --adapter my-adapter --text "mysound, calm"
  weavewave train flow --data my-dataset --vae stabilityai/stable-audio-open-1.0 --out flow-model
  weavewave train adapter --data my-dataset --from image --flow-model flow-model --out image-adapter
"""


def _add_train_parsers(sub: Any) -> None:
    from weavewave.train import SEGMENT_MODES

    ann = sub.add_parser(
        "annotate",
        help="turn a folder of music into a training dataset (segments, captions, attributes, review)",
        description="Cut each track into segments, caption and measure each one (tempo, key, meter, energy, "
        "mood) with weavewave's own analysis, check every annotation against the measurements, and write a "
        "dataset folder that `datasets.load_dataset(DIR)` and `weavewave train` read. Incremental: run it "
        "again to add new tracks or finish an interrupted run.",
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ann.add_argument(
        "music", nargs="+", metavar="MUSIC", help="audio files or folders (searched recursively)"
    )
    ann.add_argument(
        "--out", required=True, metavar="DATASET", help="the dataset folder (created or extended)"
    )
    ann.add_argument("--segment", default="10", metavar="SECONDS|sections",
                     help=f"segment length in seconds (default 10), or one of {', '.join(SEGMENT_MODES)}")  # fmt: skip
    ann.add_argument("--licence", "--license", dest="licence", metavar="TEXT",
                     help="the licence of the music, as you hold it (recorded in the dataset card)")  # fmt: skip
    ann.add_argument("--review", choices=("correct", "reject"), default="correct",
                     help="what the reviewer does with a caption its measurements contradict (default correct)")  # fmt: skip
    ann.add_argument("--images", metavar="DIR",
                     help="a folder of your photos: each segment is paired with the nearest one (caption and photo "
                     "in one text-embedding space) and the photo, its name and the score recorded")  # fmt: skip
    ann.add_argument("--clip-model", metavar="ID_OR_DIR",
                     help="with --clap-model: pair photos through CLIP (photo vs caption) and CLAP (audio vs caption) "
                     "instead of the offline text embedding")  # fmt: skip
    ann.add_argument("--clap-model", metavar="ID_OR_DIR",
                     help="CLAP weights: the reviewer records each caption's CLAP similarity to its segment and "
                     "rejects or flags (as --review says) one below --clap-threshold; with --clip-model, pairing")  # fmt: skip
    ann.add_argument("--clap-threshold", type=float, metavar="X",
                     help="with --clap-model: the lowest caption-audio cosine kept unflagged (default 0.1)")  # fmt: skip
    ann.add_argument("--describer-model", metavar="ID_OR_DIR",
                     help="an audio-language chat model (hub id or folder) that captions each segment from its "
                     "audio; the attributes stay measured and the reviewer checks the caption")  # fmt: skip
    ann.add_argument("--writer-model", metavar="ID_OR_DIR",
                     help="an instruct model (hub id or folder) that writes each segment's story and image prompt "
                     "(offline they stay empty)")  # fmt: skip
    ann.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")

    tr = sub.add_parser(
        "train",
        help="train on a dataset made by `weavewave annotate` (musicgen: a LoRA adapter; flow: a flow model)",
        description="Train on your music. `train musicgen` trains a LoRA adapter for MusicGen; `train flow` "
        "trains a flow-matching model for --backend flow; `train adapter` maps images, stories or captions into "
        "CLAP audio space or a flow model's condition space.",
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kinds = tr.add_subparsers(dest="kind", metavar="KIND")
    mg = kinds.add_parser(
        "musicgen",
        help="LoRA fine-tuning of MusicGen (transformers + PEFT + accelerate)",
        description="Train a LoRA adapter for MusicGen on --data and write it into --out. The same command "
        "runs on a CPU, a GPU, or several GPUs under `accelerate launch -m weavewave.cli train musicgen ...`.",
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from weavewave.train import DEFAULT_ALPHA, DEFAULT_LR, DEFAULT_RANK, MIXED

    mg.add_argument(
        "--data", required=True, metavar="DATASET", help="a dataset folder from `weavewave annotate`"
    )
    mg.add_argument(
        "--model", required=True, metavar="ID_OR_DIR", help="the base MusicGen (hub id or folder)"
    )
    mg.add_argument("--out", required=True, metavar="ADAPTER_DIR", help="where the adapter is written")
    mg.add_argument(
        "--trigger", metavar="WORD", help="a word put in front of every caption, to call the style up"
    )
    mg.add_argument("--epochs", type=int, default=4, help="passes over the data (default 4)")
    mg.add_argument(
        "--max-steps", type=int, metavar="N", help="stop after N optimizer steps (overrides --epochs)"
    )
    mg.add_argument("--lr", type=float, default=DEFAULT_LR, help=f"learning rate (default {DEFAULT_LR:g})")
    mg.add_argument("--batch-size", type=int, default=2, help="segments per micro-batch (default 2)")
    mg.add_argument("--grad-accum", type=int, default=2, help="micro-batches per optimizer step (default 2)")
    mg.add_argument("--rank", type=int, default=DEFAULT_RANK, help=f"LoRA rank (default {DEFAULT_RANK})")
    mg.add_argument("--alpha", type=int, default=DEFAULT_ALPHA, help=f"LoRA alpha (default {DEFAULT_ALPHA})")
    mg.add_argument("--lora-dropout", type=float, default=0.05, help="LoRA dropout (default 0.05)")
    mg.add_argument("--max-grad-norm", type=float, default=1.0, help="clip gradients to this norm (0: off)")
    mg.add_argument("--val-fraction", type=float, default=0.1, help="share of rows held out (default 0.1)")
    mg.add_argument("--eval-every", type=int, default=50, metavar="N", help="validation loss every N steps")
    mg.add_argument(
        "--save-every", type=int, default=100, metavar="N", help="checkpoint every N steps (0: off)"
    )
    mg.add_argument("--sample-every", type=int, default=0, metavar="N",
                    help="write a generated sample every N steps into OUT/samples (default 0: off)")  # fmt: skip
    mg.add_argument(
        "--sample-caption", metavar="TEXT", help="caption of the samples (default: a held-out one)"
    )
    mg.add_argument("--sample-seconds", type=float, default=5.0, help="length of each sample (default 5)")
    mg.add_argument("--gradient-checkpointing", choices=("auto", "on", "off"), default="auto",
                    help="trade compute for memory (default auto: on with a GPU)")  # fmt: skip
    mg.add_argument("--mixed-precision", choices=MIXED, default="auto",
                    help="GPU number format (default auto: bf16, else fp16; none on the CPU)")  # fmt: skip
    mg.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to train")
    mg.add_argument(
        "--seed", type=int, default=0, help="shuffling, split and LoRA initialisation (default 0)"
    )
    mg.add_argument("--resume", action="store_true", help="carry on from the last checkpoint in --out")
    mg.add_argument(
        "--force", action="store_true", help="start again over an existing adapter or run in --out"
    )
    mg.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    _add_train_flow(kinds)
    _add_train_adapter(kinds)


def _cmd_annotate(args: argparse.Namespace) -> int:
    from weavewave.train.annotate import annotate

    progress = Progress(sys.stderr, enabled=not args.quiet)
    summary = annotate(args.music, args.out, segment=args.segment, licence=args.licence, review=args.review,
                       images=args.images, clip_model=args.clip_model, clap_model=args.clap_model,
                       clap_threshold=args.clap_threshold, writer_model=args.writer_model,
                       describer_model=args.describer_model,
                       progress=progress)  # fmt: skip
    progress.done()
    paired = f", {summary.paired} paired with {summary.images} photos" if args.images else ""
    flagged = f"{summary.flagged} flagged by CLAP, " if args.clap_model else ""
    print(
        f"annotated {summary.tracks_done} new tracks into {args.out}: {summary.kept} segments kept, "
        f"{summary.corrected} corrected, {flagged}{summary.rejected} rejected{paired}, {len(summary.skipped)} files skipped"
        f"{' (listed in skipped.jsonl)' if summary.skipped else ''}; {summary.total_rows} rows in all"
    )
    return EXIT_OK


def _cmd_train(args: argparse.Namespace) -> int:
    from weavewave.errors import BadInputError

    if args.kind == "flow":
        return _cmd_train_flow(args)
    if args.kind == "adapter":
        return _cmd_train_adapter(args)
    if args.kind != "musicgen":
        raise BadInputError(
            "say what to train: `weavewave train musicgen --data DATASET --model ID --out DIR` or "
            "`weavewave train flow --data DATASET --vae ID --out DIR` or `weavewave train adapter --data DATASET "
            "--from image --out DIR`"
        )
    from weavewave.train.musicgen import TrainConfig, train_musicgen

    progress = Progress(sys.stderr, enabled=not args.quiet)
    cfg = TrainConfig(
        data=args.data, model=args.model, out=args.out, epochs=args.epochs, max_steps=args.max_steps,
        learning_rate=args.lr, batch_size=args.batch_size, grad_accum=args.grad_accum, rank=args.rank,
        alpha=args.alpha, dropout=args.lora_dropout, max_grad_norm=args.max_grad_norm, trigger=args.trigger, val_fraction=args.val_fraction,
        eval_every=args.eval_every, save_every=args.save_every, sample_every=args.sample_every,
        sample_at_end=args.sample_every > 0, sample_caption=args.sample_caption, sample_seconds=args.sample_seconds,
        gradient_checkpointing=args.gradient_checkpointing, mixed_precision=args.mixed_precision,
        device=args.device, seed=args.seed, resume=args.resume, force=args.force,
    )  # fmt: skip
    r = train_musicgen(cfg, progress=progress)
    progress.done()
    print(f"trained {r.steps} steps on {r.train_rows} segments ({r.val_rows} held out) in {r.seconds:.1f} s; "
          f"adapter in {r.out}/")  # fmt: skip
    if r.val_loss_before is not None and r.val_loss_after is not None:
        print(f"  validation loss {r.val_loss_before:.3f} -> {r.val_loss_after:.3f}")
    if r.first_loss is not None and r.last_loss is not None:
        print(f"  training loss (first vs last 10 % of steps) {r.first_loss:.3f} -> {r.last_loss:.3f}")
    print(
        f"  use it: weavewave generate --backend musicgen --model {args.model} --adapter {r.out} --text ..."
    )
    return EXIT_OK


# --- `weavewave models` ---------------------------------------------------------------------------------
def _cmd_models(args: argparse.Namespace) -> int:
    from weavewave.neural.models import ROLE_FLAG, model_table
    from weavewave.train.adapter import find_adapters

    rows = model_table()
    adapters = find_adapters(None if not args.adapters else [os.getcwd(), *args.adapters])
    if args.json:
        sys.stdout.write(json.dumps(rows + [{"role": "adapter", **a} for a in adapters], indent=2) + "\n")
        return EXIT_OK
    widths = [max(len(r["id"]) for r in rows), max(len(r["size"]) for r in rows)]
    role = None
    for r in rows:
        if r["role"] != role:
            role = r["role"]
            flag = f"weavewave eval: {ROLE_FLAG[role]}" if role == "eval" else ROLE_FLAG[role]
            print(f"{'' if role == rows[0]['role'] else chr(10)}{role} ({flag}):")
        here = "here" if r["present"] else "-"
        star = "*" if r["default"] else " "
        print(
            f" {star} {r['id']:<{widths[0]}}  {r['size']:>{widths[1]}}  {here:<4}  {r['licence']}; {r['note']}"
        )
    print("\nadapters (--adapter, with --model the base):")
    for a in adapters:
        loss = (f", validation loss {a['val_loss_before']:.3f} -> {a['val_loss_after']:.3f}"
                if a["val_loss_before"] is not None and a["val_loss_after"] is not None else "")  # fmt: skip
        print(f"   {a['path']}  {a['size_mb']:g} MB  base {a['base_model']}; {a['steps']} steps on {a['rows']} "
              f"segments{', trigger ' + repr(a['trigger']) if a['trigger'] else ''}{loss}")  # fmt: skip
    if not adapters:
        print(
            "   none found here (train one with `weavewave train musicgen`; search more with --adapters DIR)"
        )
    print(
        "\n* default. 'here': in the Hugging Face cache. Fetch one on a connected machine with "
        "`hf download ID --local-dir DIR`, then pass the folder, e.g. --model DIR."
    )
    return EXIT_OK


# --- training: `weavewave train flow` ---------------------------------------------------------------
TRAIN_FLOW_EPILOG = """examples:
  weavewave train flow --data dataset/ --vae stabilityai/stable-audio-open-1.0 --out flow-model
  weavewave train flow --data dataset/ --vae VAE_DIR --clap-model CLAP_DIR --out m --steps 20000
  accelerate launch -m weavewave.cli train flow --data dataset/ --vae VAE_DIR --out m   # several GPUs
  weavewave generate --text "a calm piano piece" --backend flow --model flow-model --steps 32
"""


def _add_train_flow(kinds: Any) -> None:
    """``train flow``, in the ``train`` group's subcommands."""
    from weavewave.generators.flow.settings import TrainSettings

    d = TrainSettings()
    p = kinds.add_parser(
        "flow",
        help="train a flow-matching model for --backend flow",
        description="Encode a dataset's audio with a VAE (cached), then train a conditional flow-matching "
        "model on its latents and captions; write config.json + model.safetensors into --out.",
        epilog=TRAIN_FLOW_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", required=True, metavar="DIR",
                   help="a dataset from `weavewave annotate`, or an audiofolder (audio + metadata.jsonl)")  # fmt: skip
    p.add_argument("--vae", required=True, metavar="ID_OR_DIR", help="AutoencoderOobleck hub id or folder")
    p.add_argument("--out", required=True, metavar="DIR", help="where the model, checkpoints and logs go")
    p.add_argument("--steps", type=int, default=d.steps, help=f"training steps (default {d.steps})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"default {d.batch_size}")
    p.add_argument(
        "--lr", type=float, default=d.learning_rate, help=f"learning rate (default {d.learning_rate:g})"
    )
    p.add_argument("--window", type=float, default=d.window_s, metavar="SECONDS", help="window (default 10)")
    p.add_argument("--hidden", type=int, default=d.hidden, help=f"model width (default {d.hidden})")
    p.add_argument("--layers", type=int, default=d.layers, help=f"transformer blocks (default {d.layers})")
    p.add_argument("--heads", type=int, default=d.heads, help=f"attention heads (default {d.heads})")
    p.add_argument("--condition", choices=("auto", "clap", "clap-audio", "minilm", "vectors"),
                   default=d.condition, help="what conditions the model: clap (the captions' CLAP text "
                   "embeddings), clap-audio (the music's CLAP audio embeddings), minilm (the shipped sentence "
                   "model), vectors (the dataset's embedding column); default auto: vectors if the dataset has "
                   "them, else clap with --clap-model, else minilm")  # fmt: skip
    p.add_argument(
        "--clap-model", metavar="ID_OR_DIR", help="CLAP weights (for --condition clap or clap-audio)"
    )
    p.add_argument("--cond-drop", type=float, default=d.cond_drop, help="condition dropout for guidance")
    p.add_argument("--ema-decay", type=float, default=d.ema_decay, help=f"default {d.ema_decay:g}")
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every, metavar="N")
    p.add_argument("--val-every", type=int, default=0, metavar="N", help="write audio samples every N steps")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"), default="no")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def _cmd_train_flow(args: argparse.Namespace) -> int:
    from weavewave.generators.flow.train import TrainSettings, train_flow

    settings = TrainSettings(
        steps=args.steps, batch_size=args.batch_size, learning_rate=args.lr, window_s=args.window,
        hidden=args.hidden, layers=args.layers, heads=args.heads, condition=args.condition,
        clap_model=args.clap_model, cond_drop=args.cond_drop, ema_decay=args.ema_decay,
        checkpoint_every=args.checkpoint_every, val_every=args.val_every, seed=args.seed, device=args.device,
        mixed_precision=args.mixed_precision,
    )  # fmt: skip

    def progress(fraction: float, message: str) -> None:
        if not args.quiet:
            sys.stderr.write(f"[{fraction:5.1%}] {message}\n")

    result = train_flow(args.data, args.vae, args.out, settings, resume=args.resume, progress=progress)
    print(
        f"weavewave: trained {result.steps} steps (loss {result.final_loss:.4f}, "
        f"{result.seconds_per_step * 1000:.0f} ms/step) into {result.out}"
    )
    return EXIT_OK


# --- training: `weavewave train adapter` -------------------------------------------------------------
TRAIN_ADAPTER_EPILOG = """examples:
  weavewave train adapter --data dataset/ --from image --clip-model openai/clip-vit-base-patch32 \\
      --clap-model laion/clap-htsat-unfused --out image-adapter
  weavewave train adapter --data dataset/ --from story --flow-model flow-model --out story-adapter
  weavewave generate --image photo.jpg --backend flow --model flow-model --adapter-embed image-adapter
"""


def _add_train_adapter(kinds: Any) -> None:
    """``train adapter``, in the ``train`` group's subcommands."""
    from weavewave.generators.flow.settings import AdapterSettings

    d = AdapterSettings()
    p = kinds.add_parser(
        "adapter",
        help="train an adapter from images, stories or captions into CLAP audio space (MusFlow)",
        description="Embed a dataset's images (CLIP), stories or captions (the sentence model, or CLAP text "
        "with --clap-model), and train an MLP that maps them to the music's CLAP audio embeddings "
        "(--clap-model) or to a flow model's condition vectors (--flow-model, offline); print and write "
        "held-out recall@1/5/10.",
        epilog=TRAIN_ADAPTER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", required=True, metavar="DIR",
                   help="a dataset from `weavewave annotate`, or an audiofolder (audio + metadata.jsonl)")  # fmt: skip
    p.add_argument("--from", dest="source", required=True, choices=("image", "text", "story"),
                   help="the source column: image (a picture path), story, or text (the caption)")  # fmt: skip
    p.add_argument("--out", required=True, metavar="DIR", help="where the adapter is written")
    p.add_argument("--clap-model", metavar="ID_OR_DIR",
                   help="CLAP weights: targets are the music's CLAP audio embeddings (and text sources are "
                   "embedded by CLAP's text tower)")  # fmt: skip
    p.add_argument("--clip-model", metavar="ID_OR_DIR", help="CLIP weights for --from image")
    p.add_argument("--flow-model", metavar="DIR",
                   help="targets are the condition vectors this flow model was trained on (offline)")  # fmt: skip
    p.add_argument("--steps", type=int, default=d.steps, help=f"training steps (default {d.steps})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"default {d.batch_size}")
    p.add_argument("--lr", type=float, default=d.learning_rate, help=f"default {d.learning_rate:g}")
    p.add_argument("--hidden", type=int, default=512, help="hidden width (default 512)")
    p.add_argument("--layers", type=int, default=2, help="linear layers (default 2)")
    p.add_argument("--holdout", type=float, default=d.holdout, help=f"share held out (default {d.holdout:g})")
    p.add_argument("--seed", type=int, default=d.seed)


def _cmd_train_adapter(args: argparse.Namespace) -> int:
    from weavewave.errors import BadInputError
    from weavewave.generators.flow.adapter_train import train_adapter_on_dataset
    from weavewave.generators.flow.adapters import AdapterSettings

    if args.steps < 1 or args.batch_size < 2 or not 0.0 < args.holdout < 1.0:
        raise BadInputError("--steps must be at least 1, --batch-size at least 2, --holdout between 0 and 1")
    settings = AdapterSettings(steps=args.steps, batch_size=args.batch_size, learning_rate=args.lr,
                               holdout=args.holdout, seed=args.seed)  # fmt: skip
    r = train_adapter_on_dataset(
        args.data, args.source, args.out, clap_model=args.clap_model, clip_model=args.clip_model,
        flow_model=args.flow_model, hidden=args.hidden, layers=args.layers, settings=settings,
    )  # fmt: skip
    m = r.metrics
    ks = (1, 5, 10)
    print(f"weavewave: adapter {r.config.source} -> {r.config.target_space} on {r.rows} rows "
          f"({int(m['held_out'])} held out) in {r.out}")  # fmt: skip
    for label, prefix in (("trained", ""), ("untrained", "untrained_"), ("chance", "chance_")):
        print(f"  {label:<9} " + "  ".join(f"recall@{k} {m[f'{prefix}recall@{k}']:.3f}" for k in ks))
    return EXIT_OK


# --- `weavewave library` (the user's own music) -----------------------------------------------------
LIBRARY_EPILOG = """examples:
  weavewave library add ~/Music                       # analyse and index (incremental, resumable)
  weavewave library search "rainy night piano"        # broad: nearest by caption
  weavewave library search --like my-song.mp3 --tempo 90-110
  weavewave library search "in the style of my track 'Harbour'" --genre jazz
  weavewave library add ~/Music --clap-model laion/clap-htsat-unfused   # also CLAP audio embeddings
  weavewave library search "rainy night piano" --clap-model laion/clap-htsat-unfused
  weavewave library search --image photo.jpg --adapter my-image-adapter   # photo -> CLAP audio space
  weavewave generate --text "a calm evening" --library ~/.local/share/weavewave/library --out calm
"""


def _add_library(sub: Any) -> None:
    lib = sub.add_parser(
        "library",
        help="your own music: index it, search it, and use it as references",
        description="A library of your music (an embedded LanceDB table), searched on a broad track "
        "(mood and theme) and a targeted track (what you name). Default folder: $WEAVEWAVE_LIBRARY, "
        "else ~/.local/share/weavewave/library.",
        epilog=LIBRARY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = lib.add_subparsers(dest="library_command", metavar="ACTION")
    folder = argparse.ArgumentParser(add_help=False)
    folder.add_argument("--library", metavar="DIR", help="the library folder (default: see above)")
    folder.add_argument("--json", action="store_true", help="print JSON")
    add = actions.add_parser("add", parents=[folder], help="analyse audio files or folders into the library")
    add.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders (searched recursively)")
    add.add_argument("--text-model", choices=("auto", "minilm", "lexicon"), default="auto",
                     help="caption embeddings: the MiniLM sentence model, or hashed words (lexicon: no torch, "
                     "faster); auto: what the library holds, else MiniLM where installed")  # fmt: skip
    add.add_argument("--clap-model", metavar="ID_OR_DIR",
                     help="also store each track's CLAP audio embedding (tracks added before too); a library "
                     "holds one CLAP's embeddings")  # fmt: skip
    add.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    listing = actions.add_parser("list", parents=[folder], help="list the tracks")
    listing.add_argument("--limit", type=int, default=None, help="at most N tracks")
    find = actions.add_parser(
        "search", parents=[folder], help="ranked tracks for a query (broad and targeted)"
    )
    find.add_argument("query", nargs="?", help="words: mood, theme, genre, instruments, 'my track 'Title''")
    find.add_argument("--text", help="a prompt or story whose brief is the query (as generate reads it)")
    find.add_argument("--image", action="append", metavar="PATH", help="a photo whose brief is the query")
    find.add_argument("--video", metavar="PATH", help="a video whose brief is the query")
    find.add_argument("--like", metavar="PATH", help="tracks like this audio file (by its own analysis)")
    find.add_argument("--reference-track", action="append", default=[], metavar="ID", help="a track by id")
    find.add_argument("--genre", help="only this genre")
    find.add_argument("--instrument", help="only tracks whose tags name this instrument")
    find.add_argument("--artist", help="only artists containing this")
    find.add_argument("--title", help="only titles containing this")
    find.add_argument("--tempo", metavar="BPM", help="only this tempo range, e.g. 100-120 (or 96: +-3 %%)")
    find.add_argument("--key", help="only this key ('D minor') or mode ('minor')")
    find.add_argument("--limit", type=int, default=10, help="results (default 10)")
    find.add_argument("--clap-model", metavar="ID_OR_DIR",
                      help="rank the words by CLAP text-to-audio similarity (the CLAP the library was added with)")  # fmt: skip
    find.add_argument("--adapter", metavar="DIR",
                      help="with --image: the photo's CLIP embedding through this adapter (`weavewave train adapter "
                      "--from image --clap-model M`) into the library's CLAP audio space")  # fmt: skip
    rm = actions.add_parser("remove", parents=[folder], help="remove tracks by id, content hash or path")
    rm.add_argument("ids", nargs="+", metavar="ID")
    actions.add_parser("stats", parents=[folder], help="what the library holds")


def _cmd_library(args: argparse.Namespace) -> int:
    from weavewave.errors import BadInputError
    from weavewave.library import open_library

    action = args.library_command
    if action is None:
        raise BadInputError("say what to do: weavewave library add|list|search|remove|stats (see --help)")
    library = open_library(args.library, create=action == "add")
    if action == "add":
        from weavewave.library.indexer import add_paths

        progress = Progress(sys.stderr, enabled=not args.quiet)
        report = add_paths(library, args.paths, text_model=args.text_model, clap_model=args.clap_model,
                           progress=progress)  # fmt: skip
        progress.done()
        if args.json:
            data = {
                **report.__dict__,
                "skipped": [{"path": str(s.path), "reason": s.reason} for s in report.skipped],
            }
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
        else:
            print("\n".join(report.lines()))
        return EXIT_OK
    if action == "list":
        rows = library.rows(limit=args.limit)
        rows.sort(key=lambda r: (r["artist"].lower(), r["title"].lower(), r["id"]))
        if args.json:
            sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        for r in [] if args.json else rows:
            print(
                f"{r['id']}  {r['title'][:40]:<40} {r['genre']:<10} {r['key']:<10} {r['tempo_bpm']:6.1f} BPM  {r['path']}"
            )
        return EXIT_OK
    if action == "search":
        return _library_search(library, args)
    if action == "remove":
        removed = library.remove(args.ids)
        missing = [i for i in args.ids if i not in removed]
        print(f"removed {len(removed)} tracks" + (f"; not found: {', '.join(missing)}" if missing else ""))
        return EXIT_OK
    stats = library.stats()
    if args.json:
        sys.stdout.write(json.dumps(stats, indent=2) + "\n")
    else:
        for k, v in stats.items():
            print(f"{k}: {v}")
    return EXIT_OK


def _library_search(library: Any, args: argparse.Namespace) -> int:
    from weavewave.errors import BadInputError
    from weavewave.library.search import Query, brief_query_text, parse_tempo_range, search

    text = args.query
    if args.adapter and not args.image:
        raise BadInputError(
            "--adapter maps photos into the library's CLAP space: give one with --image PHOTO"
        )
    # with --adapter the photos are matched through it, not described
    images = None if args.adapter else args.image
    if args.text or images or args.video:
        from weavewave.api import describe

        brief = describe(text=_read_text(args.text), image=images, video=args.video)
        text = " ".join(t for t in (text, brief_query_text(brief)) if t)
    query = Query(
        text=text, like=args.like, track=args.reference_track, genre=args.genre, instrument=args.instrument,
        artist=args.artist, title=args.title, key=args.key, limit=args.limit,
        tempo=parse_tempo_range(args.tempo) if args.tempo else None, clap_model=args.clap_model,
        adapter=args.adapter, images=list(args.image or []) if args.adapter else [],
    )  # fmt: skip
    asked = (query.text, query.adapter, query.like, query.track, args.genre, args.instrument, args.artist,
             args.title, args.tempo, args.key)  # fmt: skip
    if not any(asked):
        raise BadInputError("search for something: words, --text/--image/--video, --like PATH or a filter")
    hits = search(library, query)
    if args.json:
        data = [{"rank": i + 1, "track": h.track, "score": round(h.score, 4), "why": h.why, **h.row}
                for i, h in enumerate(hits)]  # fmt: skip
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return EXIT_OK
    if not hits:
        print(f"no tracks match in {library.folder} ({library.count()} tracks)")
    for i, h in enumerate(hits):
        print(h.line(i + 1))
    return EXIT_OK


# --- end library ---------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    from weavewave.errors import WeaveWaveError
    from weavewave.jitcache import configure

    configure()  # numba's cache folder, before anything imports numba (here or in spawned workers)
    handler = {
        "generate": _cmd_generate,
        "describe": _cmd_describe,
        "schema": _cmd_schema,
        "eval": _cmd_eval,
        "serve": _cmd_serve,
        "models": _cmd_models,
        "annotate": _cmd_annotate,
        "train": _cmd_train,
        "warmup": _cmd_warmup,
        "library": _cmd_library,
        "batch": _cmd_batch,
    }[args.command]
    try:
        return handler(args)
    except WeaveWaveError as exc:
        if sys.stderr.isatty():
            sys.stderr.write("\r\033[K")
        from weavewave.errors import FieldError

        message = exc.for_cli() if isinstance(exc, FieldError) else str(exc)
        sys.stderr.write(f"weavewave: error: {message}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("\nweavewave: interrupted\n")
        return 130
    except Exception as exc:  # an internal error: say so plainly; the traceback only on request
        from weavewave.errors import is_disk_full

        if is_disk_full(exc):  # a full disk met outside save_track (a temporary file, say): exit 2
            sys.stderr.write(
                "weavewave: error: no space left on the device: free some space or choose another --out\n"
            )
            return EXIT_BAD_INPUT
        if args.debug or os.environ.get("WEAVEWAVE_DEBUG"):
            raise
        sys.stderr.write(
            f"weavewave: internal error: {type(exc).__name__}: {exc} "
            "(rerun with --debug for the traceback, and please report it)\n"
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
