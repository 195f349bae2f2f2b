"""``weavewave annotate``: a folder of music becomes a training dataset, MusFlow's annotation workflow offline.

For every track (found by :func:`weavewave.io.audiofiles.find_audio_files`, identified by its content
hash) the track is cut into segments (a fixed length, or its detected sections) and each segment goes
through three pluggable roles:

- a **describer** measures the segment with weavewave's own analysis (tempo, key, meter, energy,
  brightness, activity) and writes a caption and attributes with provenance. A caption the user wrote
  (``TRACK.txt`` next to the audio file) is used instead of the generated one, and checked like any other;
- a **writer** adds MusFlow's story and image prompt; offline there is no instruct model, so both stay
  empty and are marked so (``writer: "none"``);
- a **reviewer** checks what each caption claims (BPM, key, meter) against the measurements; a claim they
  contradict is corrected (or the segment rejected, ``review="reject"``), silent segments are rejected,
  and every decision is recorded with its reason.

The output is the folder of :mod:`weavewave.train.dataset`. Runs are incremental and resumable: a track
already done is not read again, and rows of a track an interrupted run left half-done are dropped and
made again.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from weavewave.errors import BadInputError
from weavewave.train import SEGMENT_MODES

DEFAULT_SEGMENT_S = 10.0
MIN_SEGMENT_S = 2.0  # a shorter tail is left out: too short to measure a tempo from
MAX_FIXED_SEGMENT_S = 30.0  # MusicGen trains on 30 s windows at most
SILENT_LUFS = -60.0  # a segment quieter than this is silence (a fade, a gap between tracks)
TEMPO_TOLERANCE = 0.08  # a caption's BPM within 8 % of the measured tempo agrees with it
OCTAVE_RATIOS = (0.5, 2.0)  # half and double time are the same pulse felt differently: not an error
SEGMENT_FORMAT = "flac"
CAPTION_SIDECAR = ".txt"  # my-track.wav + my-track.txt: the user's own caption for that track
# Mood words by quadrant of (valence > 0, arousal > 0), Russell's circumplex as the text perceiver uses it.
MOOD_WORDS = {
    (True, True): ("happy", "energetic"),
    (True, False): ("calm", "warm"),
    (False, True): ("tense", "driving"),
    (False, False): ("melancholic", "reflective"),
}
_BPM = re.compile(r"(\d+(?:\.\d+)?)\s*bpm\b", re.IGNORECASE)
_KEY = re.compile(r"\b([A-G](?:#|b|♯|♭)?)\s*(major|minor|maj|min)\b", re.IGNORECASE)
_METER = re.compile(r"\b([2-9]|12)/(2|4|8)\b")


@dataclass
class Measurements:
    """What the analysis measured of one segment."""

    tempo_bpm: float
    key: str
    key_correlation: float
    meter: str | None
    energy: float
    loudness_lufs: float | None
    brightness_hz: float
    onsets_per_s: float


@dataclass
class Annotation:
    """One segment's caption and attributes, as the describer wrote them and the other roles amend them."""

    caption: str
    attributes: dict[str, Any]
    provenance: dict[str, str]
    story: str = ""
    image_prompt: str = ""
    writer: str = "none"
    review: str = "pending"  # ok | corrected | flagged | rejected
    review_notes: list[str] = field(default_factory=list)
    clap_score: float | None = None  # the caption's CLAP similarity to the audio (a ClapReviewer's)


class Describer(Protocol):
    name: str

    def describe(
        self, m: Measurements, *, tags: dict[str, str], user_caption: str | None,
        audio: np.ndarray | None = None, sample_rate: int | None = None,
    ) -> Annotation: ...  # fmt: skip


class Writer(Protocol):
    name: str

    def write(self, annotation: Annotation) -> Annotation: ...


class Reviewer(Protocol):
    name: str

    def review(
        self, annotation: Annotation, m: Measurements, *, audio: np.ndarray | None = None,
        sample_rate: int | None = None,
    ) -> Annotation: ...  # fmt: skip


# ======================================================================================================
# The offline roles
# ======================================================================================================
def measure(mono: np.ndarray, sample_rate: int) -> Measurements:
    """Measure a mono segment [shape=(n,)] with the audio perceiver's analysis (no transcription)."""
    from weavewave.perceive.audio import analyse_audio

    a = analyse_audio(mono, sample_rate, name="segment", transcribe=False)
    return Measurements(
        tempo_bpm=round(float(a.tempo_bpm), 1), key=str(a.key), key_correlation=float(a.key_correlation),
        meter=a.meter, energy=float(a.energy), loudness_lufs=a.loudness_lufs, brightness_hz=float(a.brightness_hz),
        onsets_per_s=float(a.onsets_per_s),
    )  # fmt: skip


def mood_of(m: Measurements) -> tuple[list[str], float, float]:
    """Mood words, valence and arousal from mode, brightness, tempo and energy (as the audio perceiver)."""
    from weavewave.perceive.audio.analysis import BRIGHT_HZ, TEMPO_AROUSAL, scale_range

    brightness = 2 * scale_range(m.brightness_hz, *BRIGHT_HZ) - 1
    valence = float(np.clip((0.35 if m.key.endswith("major") else -0.35) + 0.25 * brightness, -1, 1))
    arousal = float(
        np.clip(0.6 * (2 * scale_range(m.tempo_bpm, *TEMPO_AROUSAL) - 1) + 0.4 * (2 * m.energy - 1), -1, 1)
    )
    return list(MOOD_WORDS[(valence > 0, arousal > 0)]), round(valence, 3), round(arousal, 3)


class AnalyticDescriber:
    """Captions from weavewave's own measurements (no weights); a user's caption is kept as written."""

    name = "analytic"

    def describe(
        self, m: Measurements, *, tags: dict[str, str], user_caption: str | None,
        audio: np.ndarray | None = None, sample_rate: int | None = None,
    ) -> Annotation:  # fmt: skip
        """The caption and attributes of ``m`` (the segment's audio is not needed here)."""
        from weavewave.perceive.audio.segments import sound_words

        mood, valence, arousal = mood_of(m)
        genre = tags.get("genre")
        attributes = {"tempo_bpm": m.tempo_bpm, "key": m.key, "meter": m.meter, "energy": round(m.energy, 3),
                      "mood": mood, "valence": valence, "arousal": arousal, "genre": genre}  # fmt: skip
        provenance = {
            "tempo_bpm": "measured: librosa beat tracking of the segment",
            "key": f"measured: chroma correlates {m.key_correlation:.2f} with the Aarden-Essen key profile",
            "meter": "measured: accents repeat every bar"
            if m.meter
            else "not measurable: accents do not show it",
            "energy": "measured: loudness and onset rate",
            "mood": "derived: valence from mode and brightness, arousal from tempo and energy",
            "genre": "the file's genre tag" if genre else "unknown (no tag)",
        }
        if user_caption:
            provenance["caption"] = "written by the user (sidecar .txt), checked by the reviewer"
            return Annotation(user_caption, attributes, provenance)
        sound = sound_words(m.energy, m.brightness_hz, m.onsets_per_s)
        meter = f", {m.meter}" if m.meter else ""
        caption = (f"a {mood[0]}, {mood[1]} {genre + ' ' if genre else ''}piece in {m.key} at {m.tempo_bpm:.0f} BPM"
                   f"{meter}; {sound}")  # fmt: skip
        provenance["caption"] = "written by the analytic describer from the measurements"
        return Annotation(caption, attributes, provenance)


class OfflineWriter:
    """MusFlow's story and image prompt need an instruct model; offline both stay empty and marked."""

    name = "none"

    def write(self, annotation: Annotation) -> Annotation:
        annotation.story, annotation.image_prompt = "", ""
        annotation.writer = "none: no instruct model offline; story and image prompt left empty"
        return annotation


class MeasurementReviewer:
    """Checks a caption's BPM, key and meter against the measurements; corrects or rejects what they contradict."""

    name = "measurements"

    def __init__(self, action: str = "correct") -> None:
        if action not in ("correct", "reject"):
            raise BadInputError(f"--review {action!r}: use correct or reject")
        self.action = action

    def review(
        self, annotation: Annotation, m: Measurements, *, audio: np.ndarray | None = None,
        sample_rate: int | None = None,
    ) -> Annotation:  # fmt: skip
        """Check ``annotation``'s caption against ``m`` (the segment's audio is not needed here)."""
        notes: list[str] = []
        caption = annotation.caption
        if m.loudness_lufs is None or m.loudness_lufs < SILENT_LUFS:
            annotation.review, annotation.review_notes = "rejected", ["silent: nothing to learn from"]
            return annotation
        for match in list(_BPM.finditer(caption)):
            said = float(match.group(1))
            if not tempo_agrees(said, m.tempo_bpm):
                notes.append(f"tempo: caption says {said:g} BPM, measured {m.tempo_bpm:.0f} BPM")
                caption = caption.replace(match.group(0), f"{m.tempo_bpm:.0f} BPM", 1)
        for match in list(_KEY.finditer(caption)):
            said_key = _key_name(match.group(1), match.group(2))
            if said_key != m.key:
                notes.append(f"key: caption says {said_key}, measured {m.key}")
                caption = caption.replace(match.group(0), m.key, 1)
        if m.meter is not None:
            for match in list(_METER.finditer(caption)):
                if match.group(0) != m.meter:
                    notes.append(f"meter: caption says {match.group(0)}, measured {m.meter}")
                    caption = caption.replace(match.group(0), m.meter, 1)
        if not notes:
            annotation.review = "ok"
        elif self.action == "correct":
            annotation.caption, annotation.review = caption, "corrected"
            notes = [n + "; corrected" for n in notes]
        else:
            annotation.review = "rejected"
        annotation.review_notes = notes
        return annotation


def tempo_agrees(said: float, measured: float) -> bool:
    """A stated tempo agrees with a measured one within TEMPO_TOLERANCE, at the same, half or double time."""
    return any(abs(said - measured * r) <= TEMPO_TOLERANCE * measured * r for r in (1.0, *OCTAVE_RATIOS))


def _key_name(tonic: str, mode: str) -> str:
    from weavewave.music.theory import TONIC_NAMES, tonic_pitch_class

    pc = tonic_pitch_class(tonic.replace("♯", "#").replace("♭", "b").capitalize())
    return f"{TONIC_NAMES[pc]} {'major' if mode.lower().startswith('maj') else 'minor'}"


# ======================================================================================================
# The workflow
# ======================================================================================================
@dataclass
class AnnotateSummary:
    """What a run did (this run's counts; ``total_rows``: rows in the dataset after it)."""

    tracks_done: int = 0
    tracks_already: int = 0
    kept: int = 0
    corrected: int = 0
    flagged: int = 0  # kept, but the CLAP reviewer found the caption below its threshold
    rejected: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    total_rows: int = 0
    images: int = 0  # readable photos offered for pairing (--images)
    paired: int = 0  # segments of this run given a photo
    seconds: float = 0.0


def parse_segment(value: str | float) -> float | str:
    """``"10"`` -> 10.0 seconds; ``"sections"`` -> per detected section."""
    if isinstance(value, str) and value.strip().lower() in SEGMENT_MODES:
        return value.strip().lower()
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise BadInputError(
            f"--segment {value!r}: give seconds (e.g. 10) or {', '.join(SEGMENT_MODES)}"
        ) from None
    if not MIN_SEGMENT_S <= seconds <= MAX_FIXED_SEGMENT_S:
        raise BadInputError(
            f"--segment {seconds:g}: use {MIN_SEGMENT_S:g} to {MAX_FIXED_SEGMENT_S:g} seconds"
        )
    return seconds


def segment_spans(mono: np.ndarray, sample_rate: int, segment: float | str) -> list[tuple[float, float]]:
    """(start_s, end_s) of each segment: fixed lengths (a tail shorter than MIN_SEGMENT_S dropped), or the
    sections the audio perceiver detects."""
    duration = mono.shape[0] / sample_rate
    if segment == "sections":
        from weavewave.perceive.audio import analyse_audio

        bounds = analyse_audio(mono, sample_rate, transcribe=False).boundaries_s
        edges = [*bounds, duration]
        spans = list(zip(edges[:-1], edges[1:], strict=True))
    else:
        step = float(segment)
        spans = [(s, min(s + step, duration)) for s in np.arange(0.0, duration, step)]
    return [(round(float(a), 3), round(float(b), 3)) for a, b in spans if b - a >= MIN_SEGMENT_S]


def _user_caption(path: Path) -> str | None:
    side = path.with_suffix(CAPTION_SIDECAR)
    if side.is_file():
        text = " ".join(side.read_text(encoding="utf-8", errors="replace").split())
        return text or None
    return None


def _write_state(out: Path, state: dict[str, Any]) -> None:
    from weavewave.train.dataset import STATE_FILE

    tmp = out / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, out / STATE_FILE)  # whole or absent, whatever interrupts the run


def _drop_unfinished(out: Path, done: set[str]) -> None:
    """Rows (and audio) of tracks an interrupted run left half-done: they are made again."""
    from weavewave.train.dataset import DATA_FILE, REJECTED_FILE, read_jsonl, write_jsonl

    for name in (DATA_FILE, REJECTED_FILE):
        rows = read_jsonl(out / name)
        keep = [r for r in rows if r.get("source_sha256") in done]
        if len(keep) != len(rows) or (out / name).is_file():
            for r in rows:
                if r.get("source_sha256") not in done and r.get("audio"):
                    (out / r["audio"]).unlink(missing_ok=True)
            write_jsonl(out / name, keep, append=False)


def annotate(
    music: list[str | Path] | str | Path,
    out: str | Path,
    *,
    segment: str | float = DEFAULT_SEGMENT_S,
    licence: str | None = None,
    review: str = "correct",
    describer: Describer | None = None,
    writer: Writer | None = None,
    reviewer: Reviewer | None = None,
    images: str | Path | None = None,
    progress: Callable[[float, str], None] | None = None,
    paths_from: str | Path | None = None,
    text_model: str = "auto",
    clip_model: str | None = None,
    clap_model: str | None = None,
    clap_threshold: float | None = None,
    writer_model: str | None = None,
    describer_model: str | None = None,
) -> AnnotateSummary:
    """Annotate the audio files under ``music`` into the dataset folder ``out`` (see the module docstring).

    ``images``: a folder of photos; each kept segment is paired with the nearest one
    (:mod:`weavewave.train.pairing`), its copy, file name and score recorded in the row. ``paths_from``:
    record source paths relative to this folder (the server does, so a dataset never shows where it keeps
    its files). ``text_model``: the embedder photos and captions meet in, as ``--text-model`` (``auto``: the
    sentence model where installed, ``minilm``, or ``lexicon``: hashed words, no torch). ``clip_model`` and
    ``clap_model`` (hub ids or folders) pair through CLIP and CLAP instead
    (:class:`weavewave.train.pairing.ModelPairer`). ``clap_model`` also makes the reviewer a
    :class:`weavewave.train.roles.ClapReviewer`: each caption's CLAP similarity to its segment is recorded
    (``clap_score``), and one below ``clap_threshold`` (default ``DEFAULT_CLAP_THRESHOLD``) is rejected or
    flagged as ``review`` says. ``writer_model`` (an instruct model) writes the story and image prompt
    (:class:`weavewave.train.roles.ModelWriter`); ``describer_model`` (an audio-language chat model)
    captions each segment from its audio (:class:`weavewave.train.roles.ModelDescriber`).

    Raises BadInputError when no audio file is found, ``images`` is not a folder, or ``out`` was made with
    another segment setting. Unreadable audio files and photos are skipped and listed in ``skipped.jsonl``
    and the card, never fatal.
    """
    from weavewave.io.audiofiles import Skipped, content_hash, find_audio_files, read_tags
    from weavewave.train.dataset import (
        DATA_FILE,
        REJECTED_FILE,
        SKIPPED_FILE,
        STATE_FILE,
        read_jsonl,
        write_jsonl,
    )

    started = time.perf_counter()
    report = progress or (lambda f, m: None)
    seg = parse_segment(segment)
    paths = [music] if isinstance(music, str | Path) else list(music)
    files, skipped = find_audio_files(paths)
    if not files:
        where = ", ".join(map(str, paths))
        raise BadInputError(
            f"no audio files found in {where}: give folders holding WAV, FLAC, MP3 or OGG files"
        )
    if clap_threshold is not None and clap_model is None:
        raise BadInputError("--clap-threshold needs --clap-model: the CLAP weights that score the captions")
    pairer = _pairer(images, text_model, clip_model, clap_model, report)
    # the roles load their models before the dataset folder is made: a wrong model or option leaves nothing
    describer = describer or _describer(describer_model, report)
    writer = writer or _writer(writer_model, report)
    reviewer = reviewer or _reviewer(review, clap_model, clap_threshold, report)
    if pairer is not None:
        skipped = [*skipped, *(Skipped(Path(s["path"]), s["reason"]) for s in pairer.skipped)]
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise BadInputError(f"--out {root} is a file: choose a folder for the dataset")
    root.mkdir(parents=True, exist_ok=True)
    state = json.loads((root / STATE_FILE).read_text()) if (root / STATE_FILE).is_file() else {}
    if state and state.get("segment") != seg:
        raise BadInputError(f"--out {root} was made with --segment {state.get('segment')}; use that again to add "
                            "tracks, or choose a new --out")  # fmt: skip
    state = {"segment": seg, "sources": state.get("sources", {}), "licence": licence or state.get("licence"),
             "images": state.get("images", 0)}  # fmt: skip
    state["images"] = max(state["images"], len(pairer.images) if pairer else 0)
    if pairer is not None:
        state["pairing"] = pairer.name
    done = {h for h, s in state["sources"].items() if s.get("done")}
    _drop_unfinished(root, done)
    summary = AnnotateSummary()
    summary.images = len(pairer.images) if pairer else 0

    hidden = Path(paths_from).resolve() if paths_from is not None else None

    def shown(path: Path) -> str:
        return path.relative_to(hidden).as_posix() if hidden and path.is_relative_to(hidden) else str(path)

    def said(reason: str) -> str:  # a reason naming a file by its full path says it from paths_from too
        return reason.replace(f"{hidden}/", "") if hidden else reason

    summary.skipped = [{"path": shown(Path(s.path).resolve()), "reason": said(s.reason)} for s in skipped]
    for n, path in enumerate(files):
        report(n / len(files), f"{path.name} ({n + 1}/{len(files)})")
        try:
            sha = content_hash(path)
        except OSError as exc:
            summary.skipped.append({"path": shown(path), "reason": f"cannot read it ({exc.strerror or exc})"})
            continue
        if sha in done:
            summary.tracks_already += 1
            continue
        try:
            rows, rejected = _annotate_track(
                path, sha, root, seg, describer, writer, reviewer, read_tags(path)
            )
        except BadInputError as exc:
            summary.skipped.append({"path": shown(path), "reason": said(str(exc))})
            continue
        if pairer is not None and pairer.images and rows:
            pairer.pair(rows, root)
            summary.paired += len(rows)
        write_jsonl(root / DATA_FILE, rows)
        write_jsonl(root / REJECTED_FILE, rejected)
        state["sources"][sha] = {"path": shown(path), "segments": len(rows) + len(rejected), "kept": len(rows),
                                 "rejected": len(rejected), "done": True}  # fmt: skip
        _write_state(root, state)
        done.add(sha)
        summary.tracks_done += 1
        summary.kept += len(rows)
        summary.corrected += sum(r["review"] == "corrected" for r in rows)
        summary.flagged += sum(r["review"] == "flagged" for r in rows)
        summary.rejected += len(rejected)
    known = {s["path"] for s in read_jsonl(root / SKIPPED_FILE)}
    write_jsonl(root / SKIPPED_FILE, [s for s in summary.skipped if s["path"] not in known])
    if not (root / DATA_FILE).is_file():
        write_jsonl(root / DATA_FILE, [])
    summary.total_rows = len(read_jsonl(root / DATA_FILE))
    summary.seconds = round(time.perf_counter() - started, 3)
    write_card(root, state, describer.name, writer.name, reviewer.name)
    report(1.0, "done")
    return summary


def _describer(model: str | None, report: Callable[[float, str], None]) -> Describer:
    if model is None:
        return AnalyticDescriber()
    from weavewave.train.roles import ModelDescriber

    report(0.0, "loading the describer model")
    return ModelDescriber(model)


def _writer(model: str | None, report: Callable[[float, str], None]) -> Writer:
    if model is None:
        return OfflineWriter()
    from weavewave.train.roles import ModelWriter

    report(0.0, "loading the writer model")
    return ModelWriter(model)


def _reviewer(action: str, clap_model: str | None, threshold: float | None,
              report: Callable[[float, str], None]) -> Reviewer:  # fmt: skip
    if clap_model is None:
        return MeasurementReviewer(action)
    from weavewave.train.roles import DEFAULT_CLAP_THRESHOLD, ClapReviewer

    report(0.0, "loading the CLAP reviewer")
    return ClapReviewer(clap_model, threshold=DEFAULT_CLAP_THRESHOLD if threshold is None else threshold,
                        action=action)  # fmt: skip


def _pairer(images: str | Path | None, text_model: str, clip_model: str | None, clap_model: str | None,
            report: Callable[[float, str], None]) -> Any:  # fmt: skip
    """The photo pairer ``annotate`` was asked for (a pairing.TextPairer or ModelPairer), or None."""
    if clip_model is not None and clap_model is None:
        raise BadInputError("--clip-model and --clap-model pair photos together (CLIP for the photo, CLAP for the "
                            "music, the caption between them): give both, or neither for the offline pairing")  # fmt: skip
    if clip_model and images is None:
        raise BadInputError(
            "--clip-model and --clap-model pair photos with segments: give the photos with --images DIR"
        )
    if images is None:
        return None
    from weavewave.library.track import EMBEDDER_MINILM, EMBEDDER_WORDS, text_embedder
    from weavewave.train.pairing import ModelPairer, TextPairer, find_images

    find_images(images)  # a wrong folder is one line before any model loads
    report(0.0, "reading the photos")
    if clip_model and clap_model:  # --clap-model alone reviews captions; photos then pair offline
        return ModelPairer(images, clip_model, clap_model)
    asked = {"minilm": EMBEDDER_MINILM, "lexicon": EMBEDDER_WORDS}.get(text_model)
    return TextPairer(images, asked or text_embedder())


def _annotate_track(path: Path, sha: str, root: Path, seg: float | str, describer: Describer, writer: Writer,
                    reviewer: Reviewer, tags: dict[str, str]) -> tuple[list[dict], list[dict]]:  # fmt: skip
    from weavewave.io.audio import load_audio, read_audio, write_audio
    from weavewave.train.dataset import AUDIO_DIR

    mono, sr = load_audio(path)  # refuses silent, truncated, undecodable files with a reason
    audio, _ = read_audio(path)
    user_caption = _user_caption(path)
    rows, rejected = [], []
    (root / AUDIO_DIR).mkdir(exist_ok=True)
    for i, (start, end) in enumerate(segment_spans(mono, sr, seg)):
        a, b = int(start * sr), int(end * sr)
        m = measure(mono[a:b], sr)
        ann = describer.describe(m, tags=tags, user_caption=user_caption, audio=mono[a:b], sample_rate=sr)
        ann = reviewer.review(writer.write(ann), m, audio=mono[a:b], sample_rate=sr)
        seg_id = f"{sha[:12]}-{i:03d}"
        row = {
            "id": seg_id, "audio": f"{AUDIO_DIR}/{seg_id}.{SEGMENT_FORMAT}", "caption": ann.caption,
            "tempo_bpm": ann.attributes["tempo_bpm"], "key": ann.attributes["key"], "meter": ann.attributes["meter"],
            "energy": ann.attributes["energy"], "mood": ann.attributes["mood"], "start_s": start, "end_s": end,
            "duration_s": round(end - start, 3), "source": path.name, "source_sha256": sha, "story": ann.story,
            "image_prompt": ann.image_prompt, "writer": ann.writer, "review": ann.review,
            "review_notes": ann.review_notes, "clap_score": ann.clap_score, "image": None, "image_source": None,
            "image_score": None,
            "provenance": json.dumps({**ann.provenance, "describer": describer.name, "reviewer": reviewer.name,
                                      "valence": ann.attributes["valence"], "arousal": ann.attributes["arousal"],
                                      "tags": tags}),
        }  # fmt: skip
        if ann.review == "rejected":
            row["audio"] = None
            rejected.append(row)
            continue
        write_audio(root / row["audio"], audio[a:b], sr, SEGMENT_FORMAT)
        rows.append(row)
    return rows, rejected


def write_card(root: Path, state: dict[str, Any], describer: str, writer: str, reviewer: str) -> None:
    """The dataset card (README.md): the loader's YAML header, sources, counts, licence, review statistics."""
    from weavewave.train.dataset import CARD_FILE, DATA_FILE, REJECTED_FILE, SKIPPED_FILE, read_jsonl

    rows = read_jsonl(root / DATA_FILE)
    rejected = read_jsonl(root / REJECTED_FILE)
    skipped = read_jsonl(root / SKIPPED_FILE)
    reasons: dict[str, int] = {}
    for r in rejected + [r for r in rows if r.get("review") in ("corrected", "flagged")]:
        for note in r.get("review_notes") or []:
            kind = note.split(":")[0]
            reasons[kind] = reasons.get(kind, 0) + 1
    minutes = sum(r.get("duration_s") or 0 for r in rows) / 60
    paired = sum(bool(r.get("image")) for r in rows)
    flagged = sum(r.get("review") == "flagged" for r in rows)
    licence = state.get("licence") or "not given (pass --licence): check you may train on this music"
    total = len(rows) + len(rejected)
    lines = [
        "---",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        f"    path: {DATA_FILE}",
        "license: other",
        "task_categories:",
        "- text-to-audio",
        "---",
        "# Music dataset made by `weavewave annotate`",
        "",
        f"- Licence (as given by the user): {licence}",
        f"- Sources: {len(state['sources'])} tracks; segments: {len(rows)} kept ({minutes:.1f} min), "
        f"{len(rejected)} rejected of {total}; {sum(r.get('review') == 'corrected' for r in rows)} captions corrected"
        + (f", {flagged} flagged by CLAP" if flagged else ""),
        f"- Segmenting: {state['segment'] if state['segment'] == 'sections' else str(state['segment']) + ' s'}",
        f"- Roles: describer `{describer}`, writer `{writer}`"
        + (" (story and image prompt empty offline)" if writer == OfflineWriter.name else "")
        + f", reviewer `{reviewer}`",
        f"- Review findings by kind: {', '.join(f'{k} {v}' for k, v in sorted(reasons.items())) or 'none'}",
        f"- Rejection rate: {len(rejected) / total:.1%}" if total else "- Rejection rate: n/a",
        f"- Files skipped (unreadable): {len(skipped)}",
        *([f"- Images: {paired} segments paired with the nearest of {state['images']} photos (column `image`, "
           f"score `image_score`; pairing: {state.get('pairing', 'text')}, how each was scored is in the row's "
           "provenance)"] if paired else []),
        "",
        "Load it with `datasets.load_dataset(\"PATH/TO/THIS/FOLDER\", split=\"train\")`; the `audio` column is "
        "a path relative to this folder. Train on it with `weavewave train musicgen --data THIS_FOLDER ...`.",
        "",
        "## Sources",
        "",
        *[f"- {s['path']} (sha256 {h[:12]}): {s['kept']} kept, {s['rejected']} rejected"
          for h, s in sorted(state["sources"].items(), key=lambda kv: kv[1]["path"])],
        *(["", "## Skipped files", ""] + [f"- {s['path']}: {s['reason']}" for s in skipped] if skipped else []),
        "",
    ]  # fmt: skip
    (root / CARD_FILE).write_text("\n".join(lines), encoding="utf-8")
