"""What the audio perceiver measures: the analysis rate and the records it fills in."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from weavewave.brief import Key
from weavewave.music.reharmonize import HarmonyTrust
from weavewave.music.theory import TONIC_NAMES as PITCH_CLASS_NAMES
from weavewave.perceive import Perception

# The analysis rate: frame indices across the package count hops of HOP samples at SR.
SR = 22050


HOP = 512


@dataclass
class Segment:
    """One span of the reference with its own measurements and caption."""

    start_s: float
    end_s: float
    label: str
    energy: float
    loudness_db: float
    brightness_hz: float
    onsets_per_s: float
    chords: list[str]
    caption: str = ""


@dataclass
class AudioAnalysis:
    """Everything measured from a reference. Times in seconds unless named ``_qn``."""

    name: str
    duration_s: float
    tempo_bpm: float
    beat_times: np.ndarray  # [shape=(n_beats,)]
    key_tonic: int
    key_mode: str
    key_correlation: float
    meter: str | None  # None when the accents do not show it
    loudness_lufs: float | None
    energy: float
    energy_curve: list[float]  # one value per second, 0..1
    brightness_hz: float
    onsets_per_s: float
    boundaries_s: list[float]
    chords: list[tuple[float, float, str]]  # (start_qn, dur_qn, symbol)
    melody: list[tuple[float, float, int, int]]  # (start_qn, dur_qn, pitch, velocity)
    melody_s: list[tuple[float, float, int]]  # the same notes in seconds, unquantised: (start, end, pitch)
    length_qn: float
    segments: list[Segment] = field(default_factory=list)
    # How far the chords read from chroma can be trusted; when not, ``chords`` are re-harmonised from the
    # kept melody (``chords_from == "melody"``) and ``detected_chords`` keeps what chroma said.
    harmony: HarmonyTrust | None = None
    chords_from: str = "audio"
    detected_chords: list[tuple[float, float, str]] = field(default_factory=list)
    melody_dropped: int = 0  # transcribed notes left out of the kept tune as likely blips
    transcriber: str = "basic-pitch"  # "pyin" for a monophonic line, "none" when not transcribed
    polyphony: float | None = None  # see :func:`polyphony`; what chose the transcriber
    voiced_share: float | None = None  # pyin's voiced share of the sounding frames, when pyin ran
    key_from: str = "chroma"  # "notes" when a monophonic transcription gives the key
    origin_qn: float = 0.0  # the beat of the recording that became quarter note 0 (a downbeat)

    @property
    def key(self) -> Key:
        return Key(tonic=PITCH_CLASS_NAMES[self.key_tonic], mode=self.key_mode)


@dataclass
class AudioPerception(Perception):
    """A Perception that also carries the full analysis, for restyling."""

    analysis: AudioAnalysis | None = None


def get_librosa():
    from weavewave.jitcache import librosa

    return librosa()
