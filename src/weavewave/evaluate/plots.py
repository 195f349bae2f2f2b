"""Pictures of one track: spectrogram, chroma, tempo and beats, loudness, piano roll, and all of them
stacked on one time axis (``overview.png``).

Drawn with matplotlib's object API on the Agg backend (no display, no global pyplot state). The brief's
sections are drawn on every time axis, so a reader can see whether the music changes where it was asked to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from weavewave._deps import require
from weavewave.evaluate.adherence import PITCH_NAMES

if TYPE_CHECKING:
    import pretty_midi

    from weavewave.brief import MusicBrief

PICTURES = ("spectrogram", "chroma", "tempo", "loudness", "pianoroll")
WIDTH_IN, PANEL_IN, DPI = 10.0, 2.4, 100
ROLE_COLOURS = {
    "melody": "#d62728",
    "chords": "#1f77b4",
    "bass": "#2ca02c",
    "pad": "#9467bd",
    "drums": "#7f7f7f",
    "other": "#ff7f0e",
}
SECTION_STYLE = dict(color="#444444", linestyle="--", linewidth=0.8, alpha=0.7)
TARGET_LUFS = -14.0


@dataclass
class TrackView:
    """What the pictures show, computed once per track."""

    name: str
    duration_s: float
    mel_db: np.ndarray  # [shape=(mels, frames)]
    chroma: np.ndarray  # [shape=(12, frames)]
    frame_s: float
    tempo_times: np.ndarray
    tempo_bpm: np.ndarray
    beats: np.ndarray
    loud_times: np.ndarray
    momentary: np.ndarray
    short_term: np.ndarray
    brief: MusicBrief | None
    metrics: dict[str, Any]
    midi: pretty_midi.PrettyMIDI | None


def _matplotlib():
    matplotlib = require("matplotlib", "eval", "the report's pictures (--no-plots skips them)")
    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    return Figure


def track_view(
    name: str,
    audio: np.ndarray,
    sample_rate: int,
    brief: MusicBrief | None,
    metrics: dict[str, Any],
    midi: pretty_midi.PrettyMIDI | None,
) -> TrackView:
    """Compute everything the pictures need from the audio (librosa) and the loudness meter."""
    from weavewave.jitcache import librosa as _get_librosa

    librosa = _get_librosa()

    from weavewave.dsp.loudness import loudness_curve
    from weavewave.music import analysis as analyze

    y = analyze.analysis_signal(audio, sample_rate)
    sr = analyze.ANALYSIS_SR
    mel = librosa.feature.melspectrogram(y=y, sr=sr, hop_length=analyze.HOP, n_mels=96, fmax=11000)
    t_tempo, bpm = analyze.tempo_curve(y, sr)
    lt, momentary = loudness_curve(audio, sample_rate, window_s=0.4, hop_s=0.1)
    lt3, short = loudness_curve(audio, sample_rate, window_s=3.0, hop_s=0.1)
    short_on_grid = np.interp(lt, lt3, short, left=np.nan, right=np.nan)
    return TrackView(
        name=name,
        duration_s=audio.shape[0] / sample_rate,
        mel_db=librosa.power_to_db(mel, ref=np.max),
        chroma=analyze.chroma(y, sr),
        frame_s=analyze.HOP / sr,
        tempo_times=t_tempo,
        tempo_bpm=bpm,
        beats=analyze.beat_times(y, sr),
        loud_times=lt,
        momentary=momentary,
        short_term=short_on_grid,
        brief=brief,
        metrics=metrics,
        midi=midi,
    )


def _sections(ax, view: TrackView, *, labels: bool = False) -> None:  # noqa: ANN001
    if view.brief is None:
        return
    for s in view.brief.sections[1:]:
        ax.axvline(s.start_s, **SECTION_STYLE)
    if labels:
        for s in view.brief.sections:
            ax.text(
                s.start_s + 0.2,
                0.95,
                s.label,
                transform=ax.get_xaxis_transform(),
                ha="left",
                va="top",
                fontsize=8,
                color="#222222",
                bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.8),
            )


def draw_spectrogram(ax, view: TrackView) -> None:  # noqa: ANN001
    extent = (0, view.mel_db.shape[1] * view.frame_s, 0, view.mel_db.shape[0])
    ax.imshow(view.mel_db, origin="lower", aspect="auto", cmap="magma", extent=extent, vmin=-80, vmax=0)
    ticks_hz = [100, 500, 1000, 2000, 4000, 8000]
    from weavewave.jitcache import librosa as _get_librosa

    librosa = _get_librosa()

    mel_freqs = librosa.mel_frequencies(n_mels=view.mel_db.shape[0], fmax=11000)
    ax.set_yticks([int(np.argmin(np.abs(mel_freqs - f))) for f in ticks_hz])
    ax.set_yticklabels([f"{f // 1000}k" if f >= 1000 else str(f) for f in ticks_hz])
    ax.set_ylabel("Hz (mel)")
    ax.set_title("Mel spectrogram (dB)", loc="left", fontsize=10)
    _sections(ax, view, labels=True)


def draw_chroma(ax, view: TrackView) -> None:  # noqa: ANN001
    extent = (0, view.chroma.shape[1] * view.frame_s, -0.5, 11.5)
    ax.imshow(view.chroma, origin="lower", aspect="auto", cmap="Blues", extent=extent, vmin=0, vmax=1)
    ax.set_yticks(range(12))
    ax.set_yticklabels(PITCH_NAMES, fontsize=7)
    if view.brief is not None:
        from weavewave.music.theory import scale_pitch_classes

        scale = set(scale_pitch_classes(view.brief.key.tonic, view.brief.key.mode))
        for pc, label in enumerate(ax.get_yticklabels()):
            label.set_fontweight("bold" if pc in scale else "normal")
            label.set_color("#000000" if pc in scale else "#999999")
    m = view.metrics
    heard = (
        f"asked {m['key_requested']}, heard {m['key_estimated']} (MIREX {m['key_mirex']:.1f})"
        if m.get("key_estimated")
        else ""
    )
    ax.set_title(f"Chroma (bold: notes of the asked scale)   {heard}", loc="left", fontsize=10)
    _sections(ax, view)


def draw_tempo(ax, view: TrackView) -> None:  # noqa: ANN001
    ax.plot(view.tempo_times, view.tempo_bpm, color="#1f77b4", linewidth=1.6, label="local tempo")
    if view.brief is not None:
        t = view.brief.tempo_bpm
        ax.axhspan(t * 0.96, t * 1.04, color="#2ca02c", alpha=0.15, label="asked ±4 %")
        ax.axhline(t, color="#2ca02c", linewidth=1.0)
    ax.vlines(view.beats, 0, 0.06, transform=ax.get_xaxis_transform(), color="#d62728", linewidth=0.8)
    # Robust range: the curve's 5th-95th percentiles (the silent tail can swing wildly) and the asked tempo.
    values = np.concatenate(
        [np.nanpercentile(view.tempo_bpm, [5, 95]), [view.brief.tempo_bpm] if view.brief else []]
    )
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    pad = max(10.0, 0.15 * (hi - lo))
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_ylabel("BPM")
    m = view.metrics
    est = (
        f"   estimated {m['tempo_estimated']:.1f} BPM (Acc1 {'yes' if m['tempo_acc1'] else 'no'}, "
        f"Acc2 {'yes' if m['tempo_acc2'] else 'no'})"
        if m.get("tempo_estimated")
        else ""
    )
    ax.set_title(f"Tempo and beats (red ticks){est}", loc="left", fontsize=10)
    ax.legend(
        loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False, ncol=2, borderaxespad=0.1
    )
    _sections(ax, view)


def draw_loudness(ax, view: TrackView) -> None:  # noqa: ANN001
    ax.plot(
        view.loud_times,
        np.maximum(view.momentary, -60),
        color="#aec7e8",
        linewidth=0.7,
        label="momentary (0.4 s)",
    )
    ax.plot(
        view.loud_times,
        np.maximum(view.short_term, -60),
        color="#1f77b4",
        linewidth=1.6,
        label="short-term (3 s)",
    )
    ax.axhline(
        TARGET_LUFS, color="#2ca02c", linewidth=1.0, linestyle=":", label=f"target {TARGET_LUFS:g} LUFS"
    )
    lufs = view.metrics.get("lufs")
    if lufs is not None:
        ax.axhline(lufs, color="#d62728", linewidth=1.0, label=f"integrated {lufs:.1f} LUFS")
    finite = view.momentary[np.isfinite(view.momentary)]
    ax.set_ylim(max(-60.0, float(finite.min()) - 3) if finite.size else -60, 0)
    ax.set_ylabel("LUFS")
    tp = view.metrics.get("true_peak_dbfs")
    ax.set_title(
        "Loudness" + (f"   true peak {tp:.1f} dBTP" if tp is not None else ""), loc="left", fontsize=10
    )
    ax.legend(
        loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False, ncol=4, borderaxespad=0.1
    )
    _sections(ax, view)


def draw_pianoroll(ax, view: TrackView) -> None:  # noqa: ANN001
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    pitches: list[int] = []
    seen: dict[str, str] = {}
    for inst in view.midi.instruments if view.midi is not None else []:
        if inst.is_drum:
            continue
        role = inst.name.split(":")[0].strip().lower()
        colour = ROLE_COLOURS.get(role, ROLE_COLOURS["other"])
        seen.setdefault(role if role in ROLE_COLOURS else "other", colour)
        boxes = [
            [
                (n.start, n.pitch - 0.4),
                (n.end, n.pitch - 0.4),
                (n.end, n.pitch + 0.4),
                (n.start, n.pitch + 0.4),
            ]
            for n in inst.notes
        ]
        ax.add_collection(PolyCollection(boxes, facecolors=colour, alpha=0.8, linewidths=0))
        pitches += [n.pitch for n in inst.notes]
    if pitches:
        ax.set_ylim(min(pitches) - 2, max(pitches) + 2)
        lo, hi = (min(pitches) // 12) * 12, (max(pitches) // 12 + 1) * 12
        ax.set_yticks(range(lo, hi + 1, 12))
        ax.set_yticklabels([f"C{p // 12 - 1}" for p in range(lo, hi + 1, 12)])
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_ylabel("pitch")
    ax.set_title("Piano roll (MIDI; drums not shown)", loc="left", fontsize=10)
    ax.legend(
        handles=[Patch(color=c, label=r) for r, c in seen.items()],
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=7,
        frameon=False,
        ncol=max(1, len(seen)),
        borderaxespad=0.1,
    )
    _sections(ax, view)


DRAW = {
    "spectrogram": draw_spectrogram,
    "chroma": draw_chroma,
    "tempo": draw_tempo,
    "loudness": draw_loudness,
    "pianoroll": draw_pianoroll,
}


def _finish(ax, view: TrackView, *, xlabel: bool) -> None:  # noqa: ANN001
    ax.set_xlim(0, view.duration_s)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)
    if xlabel:
        ax.set_xlabel("time (s)", fontsize=9)


def save_pictures(view: TrackView, folder: Path) -> dict[str, str]:
    """Write one PNG per picture plus ``overview.png`` into ``folder``; returns {picture: file name}."""
    Figure = _matplotlib()
    folder.mkdir(parents=True, exist_ok=True)
    names = [p for p in PICTURES if p != "pianoroll" or view.midi is not None]
    written = {}
    for pic in names:
        fig = Figure(figsize=(WIDTH_IN, PANEL_IN), dpi=DPI)
        fig.subplots_adjust(left=0.07, right=0.99, bottom=0.2, top=0.84)
        ax = fig.add_subplot()
        DRAW[pic](ax, view)
        _finish(ax, view, xlabel=True)
        fig.savefig(folder / f"{pic}.png")
        written[pic] = f"{pic}.png"
    height = PANEL_IN * len(names) * 0.85 + 0.6
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.45 / height, top=1 - 0.55 / height, hspace=0.32)
    axes = fig.subplots(len(names), 1, sharex=True)
    for i, (ax, pic) in enumerate(zip(np.atleast_1d(axes), names, strict=True)):
        DRAW[pic](ax, view)
        _finish(ax, view, xlabel=i == len(names) - 1)
    title = view.name if view.brief is None else f"{view.name}: {view.brief.summary()}"
    fig.suptitle(
        title if len(title) < 120 else title[:117] + "…",
        fontsize=10,
        x=0.01,
        y=1 - 0.1 / height,
        ha="left",
        va="top",
    )
    fig.savefig(folder / "overview.png")
    written["overview"] = "overview.png"
    return written
