"""The ``weavewave`` command. Heavy modules are imported inside commands so ``--help`` is instant."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2
# The shortest piece: a brief keeps durations to the millisecond, so anything shorter rounds to nothing.
MIN_DURATION_S = 0.01

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


def _add_inputs(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("inputs (at least one)")
    g.add_argument("--text", help="a prompt, scene or story; '@FILE' reads it from a text file")
    g.add_argument("--image", action="append", metavar="PATH", help="a photo (repeat for several)")
    g.add_argument("--brief", metavar="PATH", help="a brief.json to reproduce or vary (edit it first)")
    g.add_argument(
        "--video",
        metavar="PATH",
        help="a video to score: music as long as it, changes on its cuts; generate also writes video.mp4",
    )
    c = p.add_argument_group("controls (always win over what the inputs suggest)")
    c.add_argument("--duration", type=float, metavar="SECONDS", help="length in seconds, up to 600")
    c.add_argument("--tempo", type=float, metavar="BPM", help="tempo, 30-300 BPM")
    c.add_argument("--key", help="e.g. 'F# minor', 'Bb major', 'c#m', 'A dorian'")
    c.add_argument("--meter", help="4/4, 3/4 or 6/8")
    c.add_argument("--genre", help="pop, rock, jazz, lofi, electronic, ambient, classical, folk, cinematic")
    c.add_argument("--instruments", metavar="LIST", help="comma-separated, e.g. 'piano, strings, drums'")
    c.add_argument("--seed", type=int, help="same seed and inputs give the same bytes")
    c.add_argument("--loop", action="store_true", help="a seamless loop: the end flows back into the start")
    _add_restyle(p, g)
    p.add_argument(
        "--text-model",
        choices=("auto", "minilm", "lexicon"),
        default="auto",
        help="how to read text: the MiniLM sentence model, the word lexicon, or auto (default)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


# --- reference tunes and instructions (audio engineer) ---------------------------------------------
def _add_restyle(p: argparse.ArgumentParser, inputs: argparse._ArgumentGroup) -> None:
    inputs.add_argument(
        "--audio", metavar="PATH", help="a reference tune (WAV, FLAC, MP3, OGG, up to 10 min) to restyle"
    )
    r = p.add_argument_group("restyling (with --audio, or to vary any brief)")
    r.add_argument(
        "--instruction",
        metavar="TEXT",
        help="what to change, e.g. 'as a gentle lullaby on music box', 'jazz', 'more energetic'",
    )
    r.add_argument(
        "--reference-mode",
        choices=("melody", "harmony", "style"),
        help="what to keep of --audio: melody (default: the tune and its chords, re-arranged), "
        "harmony (the chords, a new tune) or style (tempo and feel, new material)",
    )


def _restyle_args(args: argparse.Namespace) -> dict[str, Any]:
    return dict(audio=args.audio, instruction=args.instruction, reference_mode=args.reference_mode)


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
    _add_inputs(gen)
    o = gen.add_argument_group("output")
    o.add_argument("--out", default="out", metavar="DIR", help="output folder (default: ./out)")
    o.add_argument(
        "--format", default="wav", choices=("wav", "flac", "mp3"), help="audio format (default wav)"
    )
    o.add_argument("--stems", action="store_true", help="also write one audio file per part into DIR/stems")
    o.add_argument("--soundfont", metavar="SF2", help="General MIDI SoundFont (.sf2) to render with")
    o.add_argument(
        "--backend",
        default="symbolic",
        choices=("symbolic", "musicgen"),
        help="generator: symbolic (default; offline, MIDI and stems) or musicgen (neural, needs weights)",
    )
    o.add_argument("--force", action="store_true", help="overwrite existing files in --out")
    o.add_argument(
        "--keep-audio",
        action="store_true",
        help="with --video: keep the video's own sound in video.mp4, the music ducked under it",
    )
    # --- evaluation: best of N candidates ---
    r = gen.add_argument_group("best of N (weavewave eval's metrics)")
    r.add_argument(
        "--candidates",
        type=int,
        default=1,
        metavar="N",
        help="make N candidates with seeds derived from --seed and keep the best (default 1)",
    )
    r.add_argument(
        "--rerank",
        metavar="METRIC",
        help="how to choose: adherence, key, tempo, scale, groove, folk, or clap[:MODEL]",
    )
    # --- end evaluation ---
    _add_musicgen_options(gen)
    _add_neural_options(gen)

    desc = sub.add_parser(
        "describe",
        help="print the MusicBrief JSON the music would be made from",
        description="Print the MusicBrief as JSON on stdout. No audio is made.",
    )
    _add_inputs(desc)
    _add_neural_options(desc)
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
    warm = sub.add_parser(
        "warmup",
        help="compile the audio analysis (numba JIT) once, before parallel use",
        description="Compile librosa's JIT functions into weavewave's per-version cache, "
        "serially and under a file lock, so later parallel runs only read it. "
        "Run once after installing; the server does it before starting workers.",
    )
    warm.add_argument("--force", action="store_true", help="delete this version's cache and compile again")
    return parser


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
    from weavewave.textfile import check_text, read_text_file

    if value is None or not value.startswith("@"):
        return None if value is None else check_text(value, what="--text")
    return read_text_file(value[1:], what="text file")


def _read_brief(path: str | None) -> Any:
    """The --brief file as a MusicBrief, parsed with the checks for hostile JSON (depth, NaN, huge ints)."""
    if path is None:
        return None
    from weavewave.brief import MusicBrief
    from weavewave.textfile import loads_json, read_text_file

    return MusicBrief.from_dict(loads_json(read_text_file(path, what="brief file"), origin=path), origin=path)


def _check_input_files(args: argparse.Namespace) -> None:
    """Every input path exists, is a regular file and can be opened for reading: one line otherwise.

    Checked before any work, so an unreadable --audio does not surface later as a decoder's error.
    """
    import stat

    from weavewave.errors import BadInputError

    named = [("--image", p) for p in args.image or []]
    named += [
        (flag, getattr(args, attr, None))
        for flag, attr in (("--video", "video"), ("--audio", "audio"), ("--melody", "melody"))
    ]
    for flag, path in named:
        if path is None:
            continue
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            raise BadInputError(f"{flag} {path}: file not found; check the path") from None
        except OSError as exc:
            raise BadInputError(
                f"{flag} {path}: cannot read it ({exc.strerror or exc}); check its permissions"
            ) from None
        try:
            mode = os.fstat(fd).st_mode
        finally:
            os.close(fd)
        if not stat.S_ISREG(mode):
            raise BadInputError(f"{flag} {path} is not a regular file: give the path of a media file")


def _check_numbers(args: argparse.Namespace) -> None:
    """Float options argparse let through as nan/inf, or too small to mean anything."""
    import math

    from weavewave.errors import BadInputError

    if args.duration is not None and math.isfinite(args.duration) and 0 < args.duration < MIN_DURATION_S:
        raise BadInputError(f"--duration {args.duration:g} s is too short: use at least {MIN_DURATION_S:g} s")


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


def _common(args: argparse.Namespace) -> dict[str, Any]:
    _check_numbers(args)
    _check_input_files(args)
    return dict(
        text=_read_text(args.text),
        image=args.image,
        brief=_read_brief(args.brief),
        duration=args.duration,
        tempo=args.tempo,
        key=args.key,
        meter=args.meter,
        genre=args.genre,
        instruments=args.instruments,
        seed=args.seed,
        semantic={"auto": None, "minilm": True, "lexicon": False}[args.text_model],
        video=args.video,
        loop=args.loop,
        keep_audio=getattr(args, "keep_audio", False),
        **_restyle_args(args),
    )


def _cmd_generate(args: argparse.Namespace) -> int:
    from weavewave.api import describe
    from weavewave.export import check_out_dir, planned_files, save_track
    from weavewave.generators import get_generator

    progress = Progress(sys.stderr, enabled=not args.quiet)
    # Refuse to overwrite, or to render into a folder that cannot be written, before doing any work.
    _check_out_writable(args.out)
    check_out_dir(args.out, planned_files(True, args.format, video=bool(args.video)), force=args.force)
    if args.candidates != 1 or args.rerank is not None:  # evaluation: best of N, checked before any work
        from weavewave.evaluate.rerank import check_rerank

        check_rerank(args.candidates, args.rerank)
    generator = get_generator(args.backend, **_generator_options(args))
    brief = describe(**_common(args), **_neural_common(args), progress=lambda f, m: progress(0.1 * f, m))
    if args.candidates > 1:
        from weavewave.evaluate.rerank import generate_best

        track = generate_best(
            generator,
            brief,
            candidates=args.candidates,
            rerank=args.rerank,
            progress=lambda f, m: progress(0.1 + 0.85 * f, m),
        )
    else:
        track = generator.generate(brief, progress=lambda f, m: progress(0.1 + 0.85 * f, m))
    progress(0.97, "writing files")
    written = save_track(
        track,
        args.out,
        video=args.video,
        keep_audio=args.keep_audio,
        fmt=args.format,
        stems=args.stems,
        force=args.force,
    )
    progress(1.0, "done")
    progress.done()
    stats = track.stats
    lufs = stats.get("lufs")
    print(
        f"wrote {len(written)} files to {args.out}/: "
        + ", ".join(str(p.relative_to(args.out)) for p in written if p.parent.name != "stems")
        + (f" and {sum(p.parent.name == 'stems' for p in written)} stems" if args.stems else "")
    )
    print(f"  {brief.summary()}")
    loud = f"{lufs:.1f} LUFS" if lufs is not None else "silent"
    peak = stats.get("true_peak_dbfs")  # None for silence, or a piece shorter than a loudness block
    print(
        f"  {track.duration_s:.2f} s, {loud}, true peak "
        + (f"{peak:.1f} dBFS" if peak is not None else "n/a")
    )
    if stats.get("generator") == "musicgen":
        print(
            f"  {stats['model']} on {stats['device']}, {stats['decoder']} decoder, {len(stats['windows'])} windows"
        )
    return EXIT_OK


def _cmd_describe(args: argparse.Namespace) -> int:
    from weavewave.api import describe

    progress = Progress(sys.stderr, enabled=not args.quiet)
    brief = describe(**_common(args), **_neural_common(args), progress=progress)
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
        default=os.environ.get("WEAVEWAVE_TOKEN"),
        help="API token: clients send 'Authorization: Bearer TOKEN'; the page asks for it as the "
        "password (default: $WEAVEWAVE_TOKEN)",
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
        data_dir=args.data_dir,
        workers=args.workers,
        max_queue=args.max_queue,
        max_upload_bytes=int(args.max_upload_mb * MiB),
        keep_days=args.keep_days,
        token=args.token or None,
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


# --- neural engineer: musicgen backend, describer and refiner options, `models` ---------------------------
def _add_musicgen_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("musicgen backend (--backend musicgen)")
    g.add_argument(
        "--model",
        metavar="ID_OR_DIR",
        help="MusicGen hub id or local folder (default facebook/musicgen-small, or "
        "facebook/musicgen-melody with --steer/--melody); see `weavewave models`",
    )
    g.add_argument(
        "--steer",
        choices=("none", "symbolic"),
        default="none",
        help="symbolic: condition MusicGen-Melody on our own composition, for neural audio at the "
        "requested tempo and key (also writes music.mid)",
    )
    g.add_argument("--melody", metavar="AUDIO", help="a recording whose melody conditions MusicGen-Melody")
    g.add_argument(
        "--top-k", type=int, default=250, metavar="K", help="sample from the K likeliest codes (0: off)"
    )
    g.add_argument("--top-p", type=float, default=0.0, metavar="P", help="nucleus sampling (0: off)")
    g.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (0: greedy)")
    g.add_argument(
        "--guidance", type=float, default=3.0, metavar="SCALE", help="classifier-free guidance scale"
    )
    g.add_argument("--window", type=float, metavar="SECONDS", help="generation window (default 30)")
    g.add_argument(
        "--prompt-seconds",
        type=float,
        metavar="SECONDS",
        help="seconds of audio each later window continues from (default 10)",
    )
    g.add_argument(
        "--decoder",
        choices=("auto", "fast", "stock"),
        default="auto",
        help="decoding loop: fast (static cache, batched guidance; same codes as stock under greedy "
        "decoding), stock (transformers' generate), auto (default: fast where it applies)",
    )


def _add_neural_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("neural models")
    g.add_argument(
        "--describer",
        choices=("analytic", "mllm"),
        default="analytic",
        help="mllm: also ask a multimodal chat model to describe the inputs",
    )
    g.add_argument(
        "--describer-model", metavar="ID_OR_DIR", help="multimodal chat model for --describer mllm"
    )
    g.add_argument(
        "--refiner",
        choices=("rules", "llm"),
        default="rules",
        help="how an --instruction rewrites the brief: rules, or an instruct LLM (--refiner-model)",
    )
    g.add_argument("--refiner-model", metavar="ID_OR_DIR", help="instruct model for --refiner llm")
    g.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda", "mps"),
        help="where neural models run (default auto)",
    )
    g.add_argument(
        "--dtype",
        default="auto",
        choices=("auto", "fp32", "bf16", "fp16"),
        help="number format of neural models (default auto: bf16/fp16 on GPUs, fp32 on CPU)",
    )


def _neural_common(args: argparse.Namespace) -> dict[str, Any]:
    return dict(
        describer=args.describer,
        describer_model=args.describer_model,
        refiner=args.refiner,
        refiner_model=args.refiner_model,
        device=args.device,
        dtype=args.dtype,
    )


def _generator_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.backend == "symbolic":
        return dict(soundfont=args.soundfont, stems=args.stems)
    from weavewave.api import musicgen_options

    # a reference recording given with --audio (audio engineer) steers MusicGen-Melody when no --melody is set
    melody = args.melody or (getattr(args, "audio", None) if args.steer != "symbolic" else None)
    return musicgen_options(
        model=args.model,
        steer=args.steer,
        melody=melody,
        top_k=args.top_k,
        top_p=args.top_p,
        temperature=args.temperature,
        guidance_scale=args.guidance,
        window=args.window,
        prompt_seconds=args.prompt_seconds,
        device=args.device,
        dtype=args.dtype,
        soundfont=args.soundfont,
        stems=args.stems,
        decoder=args.decoder,
    )


def _cmd_models(args: argparse.Namespace) -> int:
    from weavewave.models import ROLE_FLAG, model_table

    rows = model_table()
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
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
    print(
        "\n* default. 'here': in the Hugging Face cache. Fetch one on a connected machine with "
        "`hf download ID --local-dir DIR`, then pass the folder, e.g. --model DIR."
    )
    return EXIT_OK


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
        "warmup": _cmd_warmup,
    }[args.command]
    try:
        return handler(args)
    except WeaveWaveError as exc:
        if sys.stderr.isatty():
            sys.stderr.write("\r\033[K")
        sys.stderr.write(f"weavewave: error: {exc}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("\nweavewave: interrupted\n")
        return 130
    except Exception as exc:  # an internal error: say so plainly; the traceback only on request
        if args.debug or os.environ.get("WEAVEWAVE_DEBUG"):
            raise
        sys.stderr.write(
            f"weavewave: internal error: {type(exc).__name__}: {exc} "
            "(rerun with --debug for the traceback, and please report it)\n"
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
