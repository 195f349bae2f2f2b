"""Metrics read from the MIDI a symbolic generator wrote, and melody statistics compared with real music.

Per track: scale consistency, pitch-class entropy, note density against the requested energy, groove
consistency. Per melody: histograms of intervals, rhythms and pitch classes (relative to the tonic),
compared with the same histograms of real melodies from music21's corpus by Jensen-Shannon divergence.
The corpus histograms ship in ``weavewave/data/melody_corpus.json`` (made by
``tools/learn_melody_corpus.py``), so music21 is never needed at run time.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from weavewave.music.analysis import MODE_TO_MAJMIN
from weavewave.music.theory import scale_pitch_classes, tonic_pitch_class

if TYPE_CHECKING:
    import pretty_midi

    from weavewave.brief import MusicBrief

# Histogram layouts, shared with tools/learn_melody_corpus.py.
MAX_INTERVAL = 12  # semitones; larger leaps count as an octave
INTERVAL_BINS = 2 * MAX_INTERVAL + 1
# Inter-onset intervals in quarter notes; each IOI goes to the nearest bin on a log scale.
RHYTHM_BINS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)
GROOVE_SLOTS_PER_QUARTER = 4  # sixteenth-note grid
MIN_MELODY_NOTES = 8
CORPORA = ("folk", "bach")
_JSD_EPS = 1e-6


def _pitched(pm: pretty_midi.PrettyMIDI) -> list[pretty_midi.Note]:
    return [n for inst in pm.instruments if not inst.is_drum for n in inst.notes]


def scale_consistency(pm: pretty_midi.PrettyMIDI, tonic: str, mode: str) -> float | None:
    """Fraction of pitched notes whose pitch class is in the requested key's scale (mode-aware)."""
    notes = _pitched(pm)
    if not notes:
        return None
    scale = set(scale_pitch_classes(tonic, mode))
    return sum(n.pitch % 12 in scale for n in notes) / len(notes)


def pitch_class_entropy(pm: pretty_midi.PrettyMIDI) -> float | None:
    """Shannon entropy in bits of the pitch-class histogram of pitched notes (0 .. log2 12 = 3.58)."""
    notes = _pitched(pm)
    if not notes:
        return None
    counts = np.bincount([n.pitch % 12 for n in notes], minlength=12).astype(float)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def density_by_section(pm: pretty_midi.PrettyMIDI, brief: MusicBrief) -> list[tuple[float, float]]:
    """(requested energy, pitched onsets per second) for each section of the brief."""
    onsets = np.array(sorted(n.start for n in _pitched(pm)))
    rows: list[tuple[float, float]] = []
    for s in brief.sections:
        count = np.count_nonzero((onsets >= s.start_s) & (onsets < s.end_s))
        rows.append((s.energy, float(count / (s.end_s - s.start_s))))
    return rows


def density_energy_correlation(pm: pretty_midi.PrettyMIDI, brief: MusicBrief) -> float | None:
    """Spearman correlation between section energy and note density; None when it is undefined."""
    from scipy.stats import spearmanr

    rows = density_by_section(pm, brief)
    if len(rows) < 3:
        return None
    energy, density = zip(*rows, strict=True)
    if len(set(energy)) < 2 or len(set(density)) < 2:
        return None
    return float(spearmanr(energy, density).statistic)


def groove_consistency(pm: pretty_midi.PrettyMIDI) -> float | None:
    """Wu & Yang (2020) grooving consistency: 1 - mean Hamming distance between adjacent bars' onsets.

    Every onset (drums included) is placed on a sixteenth-note grid within its bar (bars from the
    file's tempo and time signature); 1.0 means every bar has the same rhythm.
    """
    downbeats = pm.get_downbeats()
    onsets = np.array(sorted(n.start for inst in pm.instruments for n in inst.notes))
    if len(downbeats) < 3 or len(onsets) == 0:
        return None
    quarter = 60.0 / pm.get_tempo_changes()[1][0]
    bar_len = float(np.median(np.diff(downbeats)))
    slots = max(1, int(round(bar_len / quarter * GROOVE_SLOTS_PER_QUARTER)))
    patterns = []
    for start, end in zip(downbeats[:-1], downbeats[1:], strict=True):
        inside = onsets[(onsets >= start) & (onsets < end)]
        grid = np.zeros(slots, bool)
        grid[np.clip(((inside - start) / (end - start) * slots).round().astype(int), 0, slots - 1)] = True
        patterns.append(grid)
    pairs = [(a, b) for a, b in zip(patterns[:-1], patterns[1:], strict=True) if a.any() or b.any()]
    if not pairs:
        return None
    return float(1.0 - np.mean([np.count_nonzero(a != b) / slots for a, b in pairs]))


def midi_adherence(pm: pretty_midi.PrettyMIDI, brief: MusicBrief, hist: Any = None) -> dict[str, Any]:
    """The MIDI metrics of one track, plus its melody's Jensen-Shannon distances to each corpus.

    ``hist``: the melody's histograms (:func:`melody_histograms_from_midi`) if the caller has them."""
    notes = _pitched(pm)
    duration = max(pm.get_end_time(), 1e-9)
    out: dict[str, Any] = {
        "scale_consistency": _round(scale_consistency(pm, brief.key.tonic, brief.key.mode)),
        "pitch_class_entropy": _round(pitch_class_entropy(pm)),
        "note_density": round(len(notes) / duration, 3),
        "density_energy_spearman": _round(density_energy_correlation(pm, brief)),
        "groove_consistency": _round(groove_consistency(pm)),
    }
    if hist is None:
        hist = melody_histograms_from_midi(pm, brief)
    if hist is not None:
        for corpus in CORPORA:
            out[f"melody_distance[{corpus}]"] = round(corpus_distance(hist, corpus)["mean"], 4)
    return out


def _round(x: float | None, digits: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, digits)


# --- melodies and their histograms ----------------------------------------------------------------
def melody_notes(pm: pretty_midi.PrettyMIDI) -> list[pretty_midi.Note]:
    """The melody as a monophonic line: the part named "melody..." (else the highest pitched part with
    enough notes), reduced to its top note at each onset."""
    candidates = [i for i in pm.instruments if not i.is_drum and len(i.notes) >= MIN_MELODY_NOTES]
    if not candidates:
        return []
    named = [i for i in candidates if i.name.lower().startswith("melody")]
    inst = named[0] if named else max(candidates, key=lambda i: np.mean([n.pitch for n in i.notes]))
    top: dict[float, pretty_midi.Note] = {}
    for n in inst.notes:
        t = round(n.start, 3)
        if t not in top or n.pitch > top[t].pitch:
            top[t] = n
    return [top[t] for t in sorted(top)]


def melody_histograms(
    pitches: list[int], onsets_quarters: list[float], tonic_pc: int
) -> dict[str, np.ndarray]:
    """Interval, rhythm and tonic-relative pitch-class counts of one monophonic melody.

    Parameters
    ----------
    pitches : MIDI pitches in order [length n].
    onsets_quarters : onset times in quarter notes [length n], ascending.
    tonic_pc : the key's tonic pitch class (0 = C).
    """
    p = np.asarray(pitches, int)
    t = np.asarray(onsets_quarters, float)
    intervals = np.clip(np.diff(p), -MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL
    iois = np.diff(t)
    iois = iois[iois > 1e-6]
    log_bins = np.log2(RHYTHM_BINS)
    rhythm = np.abs(np.log2(np.clip(iois, 1e-3, None))[:, None] - log_bins[None, :]).argmin(axis=1)
    return {
        "interval": np.bincount(intervals, minlength=INTERVAL_BINS).astype(float),
        "rhythm": np.bincount(rhythm, minlength=len(RHYTHM_BINS)).astype(float),
        "pitch_class": np.bincount((p - tonic_pc) % 12, minlength=12).astype(float),
    }


def melody_histograms_from_midi(pm: pretty_midi.PrettyMIDI, brief: MusicBrief) -> dict[str, Any] | None:
    """Histograms of a generated melody, with the mode group ("major"/"minor") its pitch classes use."""
    notes = melody_notes(pm)
    if len(notes) < MIN_MELODY_NOTES:
        return None
    quarter = 60.0 / pm.get_tempo_changes()[1][0]
    hist: dict[str, Any] = melody_histograms(
        [n.pitch for n in notes], [n.start / quarter for n in notes], tonic_pitch_class(brief.key.tonic)
    )
    hist["mode"] = MODE_TO_MAJMIN[brief.key.mode]
    return hist


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits (0 identical .. 1 disjoint) between two count vectors."""
    p = np.asarray(p, float) + _JSD_EPS
    q = np.asarray(q, float) + _JSD_EPS
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    return float(0.5 * np.sum(p * np.log2(p / m)) + 0.5 * np.sum(q * np.log2(q / m)))


@lru_cache(maxsize=1)
def corpus_histograms() -> dict[str, Any]:
    """The shipped corpus histograms: {corpus: {"interval", "rhythm", "pitch_class": {major, minor}, ...}}."""
    text = resources.files("weavewave").joinpath("data/melody_corpus.json").read_text(encoding="utf-8")
    return json.loads(text)


def corpus_distance(hist: dict[str, Any], corpus: str = "folk") -> dict[str, float]:
    """Jensen-Shannon distances of one melody's (or a pooled set's) histograms to a corpus, and their mean."""
    ref = corpus_histograms()[corpus]
    out = {
        "interval": jensen_shannon(hist["interval"], ref["interval"]),
        "rhythm": jensen_shannon(hist["rhythm"], ref["rhythm"]),
        "pitch_class": jensen_shannon(hist["pitch_class"], ref["pitch_class"][hist.get("mode", "major")]),
    }
    out["mean"] = float(np.mean(list(out.values())))
    return out


def pooled_corpus_distance(histograms: list[dict[str, Any]], corpus: str = "folk") -> dict[str, float] | None:
    """Distance of a whole set of melodies to a corpus: counts are pooled first (per mode for pitch class)."""
    if not histograms:
        return None
    ref = corpus_histograms()[corpus]
    interval = sum(h["interval"] for h in histograms)
    rhythm = sum(h["rhythm"] for h in histograms)
    out = {
        "interval": jensen_shannon(interval, ref["interval"]),
        "rhythm": jensen_shannon(rhythm, ref["rhythm"]),
    }
    pcs = []
    for mode in ("major", "minor"):
        group = [h["pitch_class"] for h in histograms if h.get("mode", "major") == mode]
        if group:
            pcs.append((len(group), jensen_shannon(sum(group), ref["pitch_class"][mode])))
    out["pitch_class"] = sum(n * d for n, d in pcs) / sum(n for n, _ in pcs)
    out["mean"] = float(np.mean([out["interval"], out["rhythm"], out["pitch_class"]]))
    return out
