"""The audio perceiver: what a reference tune is, measured, and the material a restyle keeps.

``perceive_audio(path)`` decodes WAV, FLAC, MP3 or OGG (:func:`weavewave.io.audio.load_audio`) and measures
tempo and beat grid, key and mode, meter where the accents show it, loudness and an energy curve,
brightness (spectral centroid), onset density, section boundaries, a chord per beat from chroma
(triad templates, smoothed by Viterbi), and the melody as notes: basic-pitch's ONNX model (which ships
inside its package) and its top line for polyphonic music, librosa's pyin f0 tracker for a single line,
chosen by the measured polyphony of basic-pitch's notes. A single line's key comes from its notes. The
kept tune is put on the tracked beats with its bar lines where its long notes fall on strong beats, and
snapped to the grid. The reference is cut into segments at detected section boundaries, about
``SEGMENT_S`` seconds each, and every segment gets a caption of its own, as in M2T2M.

The proposals it makes (tempo, key, meter, genre, mood, energy, duration) are fused by the bridge with
provenance source ``"audio"``; :func:`attach_reference` then stores the kept material in the brief.
librosa, soundfile and basic-pitch are imported only when a file is analysed.

The measurements live in the modules of this package (``model``, ``analysis``, ``transcription``, ``bars``,
``segments``); this module runs them in order and turns the analysis into proposals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from weavewave.brief import (
    MAX_DURATION_S,
    REFERENCE_MODES,
    Observation,
    ReferenceMaterial,
)
from weavewave.errors import BadInputError
from weavewave.io.audio import load_audio
from weavewave.music.reharmonize import clean_melody, harmony_confidence, reharmonize
from weavewave.perceive import Proposal
from weavewave.perceive.audio.analysis import (
    BRIGHT_HZ,
    CHORD_OCTAVES,
    KEY_PROFILE,
    NOTE_KEY_PROFILE,
    ONSET_ENERGY,
    TEMPO_AROUSAL,
    chord_spans,
    chords_per_beat,
    energy_curve,
    energy_level,
    extend_to_start,
    find_boundaries,
    meter_from_accents,
    resample,
    scale_range,
    template_evidence,
)
from weavewave.perceive.audio.bars import (
    downbeat_phase,
    first_sound_time,
    melody_qn,
    seconds_to_qn,
    shift_chords,
)
from weavewave.perceive.audio.model import HOP, SR, AudioAnalysis, AudioPerception, Segment, get_librosa
from weavewave.perceive.audio.segments import measure_segments, segment_caption, sound_words
from weavewave.perceive.audio.transcription import (
    MONOPHONIC_MAX_POLYPHONY,
    Transcription,
    notes_from_f0,
    polyphony,
    transcribe_line,
)


def analyse_audio(
    mono: np.ndarray, sample_rate: int, *, name: str = "audio", transcribe: bool = True
) -> AudioAnalysis:
    """Measure a mono signal [shape=(n,)]. See the module docstring for what is measured."""
    from weavewave.dsp.loudness import integrated_lufs
    from weavewave.music.analysis import estimate_tempo, key_from_chroma, key_from_notes

    librosa = get_librosa()
    y = resample(mono, sample_rate)
    duration = y.shape[0] / SR
    onset_env = librosa.onset.onset_strength(y=y, sr=SR, hop_length=HOP)
    tempo = float(estimate_tempo(y, SR, onset_envelope=onset_env))  # SR and HOP are the tempo analysis's own
    _, beat_frames = librosa.beat.beat_track(
        onset_envelope=onset_env, sr=SR, hop_length=HOP, bpm=tempo, units="frames"
    )
    beat_frames = np.asarray(beat_frames, dtype=int)
    if beat_frames.size < 4:  # no pulse to lock to: a regular grid at the estimated tempo
        beat_frames = librosa.time_to_frames(np.arange(0.0, duration, 60.0 / tempo), sr=SR, hop_length=HOP)
    beat_frames = extend_to_start(beat_frames, 60.0 / tempo * SR / HOP)
    beat_times = librosa.frames_to_time(beat_frames, sr=SR, hop_length=HOP)
    chroma = librosa.feature.chroma_cqt(y=y, sr=SR, hop_length=HOP)
    rms = librosa.feature.rms(y=y, hop_length=HOP)[0]
    meter = meter_from_accents(rms, beat_frames)
    loud = integrated_lufs(mono, sample_rate)
    centroid = librosa.feature.spectral_centroid(y=y, sr=SR, hop_length=HOP)[0]
    onsets = librosa.onset.onset_detect(onset_envelope=onset_env, sr=SR, hop_length=HOP, units="time")
    onsets_per_s = float(len(onsets) / duration)
    energy = energy_level(loud, onsets_per_s)
    curve = energy_curve(rms)
    heard = transcribe_line(y, rms=rms, onset_envelope=onset_env) if transcribe else Transcription([], "none")
    melody_s = heard.notes
    if heard.method == "pyin" and melody_s:
        # A single line's chroma is its harmonics as much as its notes (a twelfth puts G over C, leaning the
        # key to the dominant): the notes, which pyin heard at the right pitch, carry the key alone.
        tonic, mode, corr = key_from_notes(melody_s, profile=NOTE_KEY_PROFILE)
        key_from = "notes"
    else:
        tonic, mode, corr = key_from_chroma(chroma.mean(axis=1), profile=KEY_PROFILE)
        key_from = "chroma"
    # Chords from the register below the tune (C1-C5): a loud melody would otherwise pull every beat's chord.
    low_chroma = librosa.feature.chroma_cqt(
        y=y, sr=SR, hop_length=HOP, fmin=librosa.note_to_hz("C1"), n_octaves=CHORD_OCTAVES
    )
    beat_chroma = librosa.util.sync(low_chroma, beat_frames, aggregate=np.median)
    chord_labels = chords_per_beat(beat_chroma)
    chords = chord_spans(chord_labels)
    best, margins = template_evidence(beat_chroma)
    trust = harmony_confidence(best, margins, chords, tonic, mode)
    tune_s = clean_melody(melody_s, tonic, mode)
    to_qn = seconds_to_qn(beat_times, tempo)
    beats_per_bar = int((meter or "4/4").split("/")[0])
    first_sound = first_sound_time(rms)
    melody, length_qn, origin = melody_qn(
        tune_s, to_qn, duration, beats_per_bar=beats_per_bar, first_sound_s=first_sound
    )
    chords = shift_chords(chords, origin)
    boundaries = find_boundaries(librosa, y, chroma, beat_frames, duration, start_s=first_sound)
    detected = [c for c in chords if c[0] < length_qn]
    chords_from = "audio"
    if not trust.trusted and melody:
        chords, chords_from = reharmonize(melody, tonic, mode, length_qn, float(beats_per_bar)), "melody"
    analysis = AudioAnalysis(
        name=name,
        duration_s=round(duration, 3),
        tempo_bpm=round(tempo, 2),
        beat_times=beat_times,
        key_tonic=tonic,
        key_mode=mode,
        key_correlation=round(corr, 3),
        meter=meter,
        loudness_lufs=None if loud is None else round(loud, 2),
        energy=energy,
        energy_curve=curve,
        brightness_hz=round(float(np.mean(centroid)), 1),
        onsets_per_s=round(onsets_per_s, 2),
        boundaries_s=boundaries,
        chords=[c for c in chords if c[0] < length_qn],
        melody=melody,
        melody_s=melody_s,
        length_qn=length_qn,
        harmony=trust,
        chords_from=chords_from,
        detected_chords=detected,
        melody_dropped=len(melody_s) - len(tune_s),
        transcriber=heard.method,
        polyphony=heard.polyphony,
        voiced_share=heard.voiced_share,
        key_from=key_from,
        origin_qn=origin,
    )
    analysis.segments = measure_segments(analysis, rms, centroid, onsets, chroma)
    return analysis


def _genre_guess(a: AudioAnalysis) -> tuple[str, float, str]:
    """A weak genre guess from tempo, brightness and activity; an instruction or --genre overrides it."""
    if a.energy < 0.35 and a.onsets_per_s < 2.0:
        return "ambient", 0.3, "quiet and sparse"
    if a.tempo_bpm >= 118 and a.onsets_per_s >= 4.0 and a.brightness_hz > 2000:
        return "electronic", 0.3, "fast, busy and bright"
    if a.energy > 0.7 and a.brightness_hz > 2000:
        return "rock", 0.3, "loud and bright"
    if a.brightness_hz < 1500 and a.energy < 0.55:
        return "classical", 0.3, "soft and warm"
    return "pop", 0.25, "moderate tempo and level"


def duration_proposal(length_qn: float, tempo_bpm: float, name: str) -> Proposal:
    """The brief's length from a reference: its beats at its tempo, capped at the brief's limit.

    The beat grid is rounded up to whole grid steps and follows the player's tempo drift, so a tune of
    exactly ``MAX_AUDIO_S`` (600 s) can measure a little over it (613 s was seen); such a reference is
    accepted, and the piece made from it is as long as a brief may be.
    """
    seconds = length_qn * 60.0 / tempo_bpm
    if seconds <= MAX_DURATION_S:
        return Proposal(round(seconds, 3), 0.9, f"duration: the length of {name}")
    return Proposal(
        MAX_DURATION_S,
        0.9,
        f"duration: the length of {name} ({seconds:.0f} s), capped at {MAX_DURATION_S:g} s",
    )


def _proposals(a: AudioAnalysis) -> dict[str, Proposal]:
    n = a.name
    brightness = 2 * scale_range(a.brightness_hz, *BRIGHT_HZ) - 1
    valence = float(np.clip((0.35 if a.key_mode == "major" else -0.35) + 0.25 * brightness, -1, 1))
    arousal = float(
        np.clip(0.6 * (2 * scale_range(a.tempo_bpm, *TEMPO_AROUSAL) - 1) + 0.4 * (2 * a.energy - 1), -1, 1)
    )
    genre, g_conf, g_why = _genre_guess(a)
    key = a.key
    props = {
        "tempo_bpm": Proposal(a.tempo_bpm, 1.0, f"tempo {a.tempo_bpm:g}: measured from the beats of {n}"),
        "key": Proposal(
            key,
            float(np.clip(a.key_correlation, 0.1, 0.95)),
            f"key {key}: chroma of {n} correlates {a.key_correlation:.2f} with the Aarden-Essen key profile"
            if a.key_from == "chroma"
            else f"key {key}: the notes of {n}'s single line, weighted by length, correlate "
            f"{a.key_correlation:.2f} with the Krumhansl-Kessler key profile",
        ),
        "duration_s": duration_proposal(a.length_qn, a.tempo_bpm, n),
        "valence": Proposal(
            round(valence, 3),
            0.7,
            f"valence {valence:+.2f}: {key.mode} key, brightness {a.brightness_hz:.0f} Hz",
        ),
        "arousal": Proposal(
            round(arousal, 3), 0.7, f"arousal {arousal:+.2f}: {a.tempo_bpm:g} BPM, energy {a.energy:.2f}"
        ),
        "energy": Proposal(
            a.energy,
            0.8,
            f"energy {a.energy:.2f}: loudness "
            f"{a.loudness_lufs if a.loudness_lufs is not None else -70:.1f} LUFS, "
            f"{a.onsets_per_s:.1f} onsets/s",
        ),
        "density": Proposal(
            round(scale_range(a.onsets_per_s, *ONSET_ENERGY), 3),
            0.6,
            f"density: {a.onsets_per_s:.1f} onsets/s in {n}",
        ),
        "genre": Proposal(genre, g_conf, f"genre {genre}: {n} is {g_why} (a guess from the sound)"),
        "mood_tags": Proposal(
            [w for w in sound_words(a.energy, a.brightness_hz, a.onsets_per_s).split(", ")][:2],
            0.5,
            "from the reference's level and brightness",
        ),
        "caption_hint": Proposal(f"after the reference {n}", 0.5, "restyled from a reference tune"),
    }
    if a.meter is not None:
        props["meter"] = Proposal(
            a.meter, 0.6, f"meter {a.meter}: accents of {n} repeat every {a.meter[0]} beats"
        )
    return props


def perceive_audio(path: str | Path, *, transcribe: bool = True) -> AudioPerception:
    """Analyse a reference recording and propose brief attributes from it.

    Parameters
    ----------
    path: a WAV, FLAC, MP3 or OGG file, at most ``WEAVEWAVE_MAX_AUDIO_S`` (default 600) seconds.
    transcribe: transcribe the melody (basic-pitch, or pyin for a single line; off: chords, key and tempo only).

    Raises
    ------
    BadInputError: the file is missing, empty, undecodable, truncated, too long, too short or silent.
    """
    p = Path(path)
    mono, sr = load_audio(p)
    a = analyse_audio(mono, sr, name=p.name, transcribe=transcribe)
    measurements: dict[str, Any] = {
        "duration_s": a.duration_s,
        "tempo_bpm": a.tempo_bpm,
        "beats": int(len(a.beat_times)),
        "key": str(a.key),
        "key_correlation": a.key_correlation,
        "meter": a.meter,
        "loudness_lufs": a.loudness_lufs,
        "energy": a.energy,
        "energy_curve": a.energy_curve,
        "brightness_hz": a.brightness_hz,
        "onsets_per_s": a.onsets_per_s,
        "section_boundaries_s": a.boundaries_s,
        "melody_notes": len(a.melody),
        "chords": [c[2] for c in a.chords][:64],
        "chords_from": a.chords_from,
        "detected_chords": [c[2] for c in a.detected_chords][:64],
        "harmony_confidence": a.harmony.confidence if a.harmony else None,
        "harmony_reason": a.harmony.reason if a.harmony else "",
        "melody_notes_dropped": a.melody_dropped,
        "transcriber": a.transcriber,
        "polyphony": a.polyphony,
        "voiced_share": a.voiced_share,
        "key_from": a.key_from,
        "origin_beat": a.origin_qn,
        "segments": [
            {
                "start_s": s.start_s,
                "end_s": s.end_s,
                "label": s.label,
                "energy": s.energy,
                "loudness_db": s.loudness_db,
                "brightness_hz": s.brightness_hz,
                "onsets_per_s": s.onsets_per_s,
                "chords": s.chords,
                "caption": s.caption,
            }
            for s in a.segments
        ],
    }
    summary = (
        f"{a.duration_s:.0f} s reference in {a.key} at {a.tempo_bpm:g} BPM"
        f"{', ' + a.meter if a.meter else ''}; {len(a.segments)} segments, {len(a.melody)} melody notes, "
        f"{len(a.chords)} chord changes"
        f"{' (re-harmonised from the melody: detected chords not trusted)' if a.chords_from == 'melody' else ''}"
    )
    obs = Observation(source="audio", input=p.name, summary=summary, measurements=measurements)
    return AudioPerception(observation=obs, proposals=_proposals(a), analysis=a)


def reference_material(a: AudioAnalysis, mode: str) -> ReferenceMaterial:
    """The material a brief keeps for ``mode`` (see :class:`weavewave.brief.ReferenceMaterial`)."""
    if mode not in REFERENCE_MODES:
        raise BadInputError(f"unknown reference mode {mode!r}: use melody, harmony or style")
    return ReferenceMaterial(
        source=a.name,
        mode=mode,
        tempo_bpm=a.tempo_bpm,
        key=a.key,
        length_qn=a.length_qn,
        melody=list(a.melody) if mode == "melody" else [],
        chords=list(a.chords) if mode in ("melody", "harmony") else [],
        chords_from=a.chords_from,
        harmony_confidence=a.harmony.confidence if a.harmony else None,
        harmony_reason=a.harmony.reason if a.harmony else "",
    )


# The names callers import from ``weavewave.perceive.audio`` (the module was one file before this package).
__all__ = [
    "MONOPHONIC_MAX_POLYPHONY",
    "AudioAnalysis",
    "AudioPerception",
    "Segment",
    "analyse_audio",
    "downbeat_phase",
    "duration_proposal",
    "load_audio",
    "notes_from_f0",
    "perceive_audio",
    "polyphony",
    "reference_material",
    "seconds_to_qn",
    "segment_caption",
]
