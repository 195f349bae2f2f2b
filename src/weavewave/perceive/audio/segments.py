"""Per-segment measurements of a reference and a caption for each segment."""

from __future__ import annotations

import numpy as np

from weavewave.perceive.audio.analysis import BRIGHT_HZ
from weavewave.perceive.audio.bars import seconds_to_qn
from weavewave.perceive.audio.model import HOP, SR, AudioAnalysis, Segment

SAME_THEME_CORRELATION = 0.9  # segments whose mean chroma correlate this well share a label


def measure_segments(
    a: AudioAnalysis, rms: np.ndarray, centroid: np.ndarray, onsets: np.ndarray, chroma: np.ndarray
) -> list[Segment]:
    """Per-segment measurements, theme labels by chroma similarity, and a caption each."""
    from weavewave.jitcache import librosa as _get_librosa

    librosa = _get_librosa()

    edges = [*a.boundaries_s, a.duration_s]
    frames = librosa.time_to_frames(np.array(edges), sr=SR, hop_length=HOP)
    overall_db = 20 * np.log10(max(float(np.mean(rms)), 1e-6))
    themes: list[np.ndarray] = []
    out: list[Segment] = []
    for i in range(len(edges) - 1):
        f0, f1 = int(frames[i]), max(int(frames[i]) + 1, int(frames[i + 1]))
        seg_db = 20 * np.log10(max(float(np.mean(rms[f0:f1])), 1e-6))
        mean_chroma = chroma[:, f0:f1].mean(axis=1)
        label = None
        for k, theme in enumerate(themes):
            if np.corrcoef(theme, mean_chroma)[0, 1] >= SAME_THEME_CORRELATION:
                label = chr(ord("A") + k)
                break
        if label is None:
            themes.append(mean_chroma)
            label = chr(ord("A") + min(len(themes) - 1, 25))
        dur = edges[i + 1] - edges[i]
        seg_onsets = float(np.sum((onsets >= edges[i]) & (onsets < edges[i + 1])) / max(dur, 1e-6))
        q0, q1 = _qn_range(a, edges[i], edges[i + 1])
        chords = list(dict.fromkeys(c[2] for c in a.chords if c[0] + c[1] > q0 and c[0] < q1))[:4]
        out.append(
            Segment(
                start_s=round(edges[i], 3),
                end_s=round(edges[i + 1], 3),
                label=label,
                energy=round(float(np.clip(a.energy + (seg_db - overall_db) / 24.0, 0.05, 0.95)), 3),
                loudness_db=round(seg_db, 1),
                brightness_hz=round(float(np.mean(centroid[f0:f1])), 1),
                onsets_per_s=round(seg_onsets, 2),
                chords=chords,
            )
        )
    for seg in out:
        seg.caption = segment_caption(seg, tempo=a.tempo_bpm)
    return out


def _qn_range(a: AudioAnalysis, start_s: float, end_s: float) -> tuple[float, float]:
    to_qn = seconds_to_qn(a.beat_times, a.tempo_bpm)
    return float(to_qn(start_s)) - a.origin_qn, float(to_qn(end_s)) - a.origin_qn


def sound_words(energy: float, brightness_hz: float, onsets_per_s: float) -> str:
    level = "quiet" if energy < 0.35 else "steady" if energy < 0.65 else "loud"
    tone = (
        "dark"
        if brightness_hz < BRIGHT_HZ[0] * 1.5
        else "bright"
        if brightness_hz > BRIGHT_HZ[1] * 0.8
        else "warm"
    )
    motion = "sparse" if onsets_per_s < 1.5 else "flowing" if onsets_per_s < 4 else "busy"
    return f"{level}, {tone}, {motion}"


def _chord_words(chords: list[str]) -> str:
    if not chords:
        return ""
    names = [c.replace(":maj", "").replace(":min", "m") for c in chords]
    return f" over {' - '.join(names)}"


def segment_caption(
    seg: Segment,
    *,
    tempo: float,
    style: str | None = None,
    instruments: str | None = None,
    keep: str | None = None,
) -> str:
    """A caption for one segment: what it sounds like; with ``style`` etc., how the restyle plays it."""
    head = f"{seg.label} ({seg.start_s:.0f}-{seg.end_s:.0f} s): {sound_words(seg.energy, seg.brightness_hz, seg.onsets_per_s)}"
    if style is None:
        return f"{head} passage{_chord_words(seg.chords)}, {tempo:g} BPM"
    return f"{head} {style} passage{' on ' + instruments if instruments else ''}" + (
        f", {keep}" if keep else ""
    )
