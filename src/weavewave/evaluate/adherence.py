"""Adherence: did the music keep to what its brief asked? Measured from the audio, no model needed.

Every number comes from :mod:`weavewave.music.analysis` (librosa) and :mod:`weavewave.io.audio`
(BS.1770 loudness and true peak). Tempo is estimated with librosa's default 120 BPM prior, never with
the requested tempo, so a track cannot pass by being told the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from weavewave.dsp.loudness import clipped_runs, integrated_lufs, longest_silence_s, true_peak_dbfs
from weavewave.music import analysis as analyze

if TYPE_CHECKING:
    from weavewave.brief import MusicBrief

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# A track is flagged silent when integrated loudness is missing or below this, or a gap is this long.
SILENT_LUFS = -50.0
SILENT_GAP_S = 2.0
BOUNDARY_WINDOW_S = 3.0
TEMPO_PRIOR_BPM = 120.0


def key_name(tonic: int, mode: str) -> str:
    return f"{PITCH_NAMES[tonic % 12]} {mode}"


def tempo_and_key(y: np.ndarray, brief: MusicBrief) -> tuple[float, tuple[int, str], float]:
    """(estimated BPM, estimated (tonic, mode), MIREX score against the brief's key) of ``y``, a signal at
    ``analyze.ANALYSIS_SR`` (:func:`weavewave.music.analysis.analysis_signal`)."""
    sr = analyze.ANALYSIS_SR
    bpm = analyze.estimate_tempo(y, sr, start_bpm=TEMPO_PRIOR_BPM)
    tonic, mode, _ = analyze.estimate_key(y, sr)
    return (
        bpm,
        (tonic, mode),
        analyze.mirex_key_score((tonic, mode), analyze.reference_key(brief.key.tonic, brief.key.mode)),
    )


def audio_adherence(audio: np.ndarray, sample_rate: int, brief: MusicBrief) -> dict[str, Any]:
    """Adherence metrics of one track against its brief.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,) or (n, channels)]
        The track, float samples in -1..1.
    sample_rate : int
    brief : MusicBrief
        What was asked.

    Returns
    -------
    dict
        ``tempo_requested``, ``tempo_estimated``, ``tempo_acc1``, ``tempo_acc2``, ``key_requested``,
        ``key_estimated``, ``key_exact``, ``key_mirex``, ``duration_requested_s``, ``duration_s``,
        ``duration_error_s``, ``lufs``, ``true_peak_dbfs``, ``longest_silence_s``, ``silent``,
        ``clipped_runs``, ``clipping``, ``section_boundary_f3`` (None with fewer than two sections).
    """
    y = analyze.analysis_signal(audio, sample_rate)
    sr = analyze.ANALYSIS_SR
    lufs = integrated_lufs(audio, sample_rate)
    out: dict[str, Any] = {
        "tempo_requested": brief.tempo_bpm,
        "tempo_estimated": None,
        "tempo_acc1": False,
        "tempo_acc2": False,
        "key_requested": str(brief.key),
        "key_estimated": None,
        "key_exact": False,
        "key_mirex": 0.0,
    }
    if lufs is not None:  # silence has no tempo or key: it scores zero rather than a guess
        bpm, (tonic, mode), mirex = tempo_and_key(y, brief)
        out |= {
            "tempo_estimated": round(bpm, 2),
            "tempo_acc1": analyze.tempo_matches(bpm, brief.tempo_bpm),
            "tempo_acc2": analyze.tempo_matches(bpm, brief.tempo_bpm, allow_octave=True),
        }
        out |= {"key_estimated": key_name(tonic, mode), "key_exact": mirex == 1.0, "key_mirex": mirex}
    duration = audio.shape[0] / sample_rate
    out |= {
        "duration_requested_s": brief.duration_s,
        "duration_s": round(duration, 3),
        "duration_error_s": round(duration - brief.duration_s, 3),
    }
    silence = longest_silence_s(audio, sample_rate)
    clips = clipped_runs(audio)
    out |= {
        "lufs": None if lufs is None else round(lufs, 2),
        "true_peak_dbfs": _finite(true_peak_dbfs(audio, sample_rate)),
        "longest_silence_s": round(silence, 2),
        "silent": lufs is None or lufs < SILENT_LUFS or silence >= SILENT_GAP_S,
        "clipped_runs": clips,
        "clipping": clips > 0,
    }
    found = section_agreement(y, sr, brief)
    out["section_boundary_f3"] = found if lufs is not None or found is None else 0.0
    return out


def _finite(x: float) -> float | None:
    """Rounded, or None for -inf (the peak of silence), which JSON cannot hold."""
    return round(x, 2) if np.isfinite(x) else None


def requested_boundaries(brief: MusicBrief) -> np.ndarray:
    """Times where one section of the brief ends and the next begins (the ends of the piece excluded)."""
    return np.array([s.start_s for s in brief.sections[1:]], dtype=float)


def section_agreement(audio: np.ndarray, sample_rate: int, brief: MusicBrief) -> float | None:
    """F-measure (3 s window) between the brief's section boundaries and those found in the audio."""
    reference = requested_boundaries(brief)
    if len(reference) == 0:
        return None
    found = analyze.section_boundaries(audio, sample_rate, len(reference))
    return round(analyze.boundary_f_measure(found, reference, window_s=BOUNDARY_WINDOW_S), 3)
