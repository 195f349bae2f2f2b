"""The generator contract as tests every backend inherits (as diffusers' PipelineTesterMixin).

A backend's test module subclasses :class:`GeneratorContract`, names its ``backend`` and overrides the
``options`` fixture (how to build a plain generator: a tiny model folder, a shared cache). Everything a
backend declares in ``capabilities`` is checked to hold, and everything it does not declare is checked
to be refused with one line (``BadInputError``) rather than silently dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from weavewave.brief import Cue, Key, MusicBrief, ReferenceMaterial, Section
from weavewave.dsp.loudness import integrated_lufs, true_peak_dbfs
from weavewave.dsp.master import TARGET_LUFS, TRUE_PEAK_LIMIT_DBFS
from weavewave.errors import BadInputError
from weavewave.export.track import save_track
from weavewave.generators import (
    BACKENDS,
    Capabilities,
    GeneratorOptions,
    Track,
    capabilities_of,
    generator_from_brief,
    get_generator,
)
from weavewave.generators.symbolic.render import SAMPLE_RATE

LOUDNESS_TOLERANCE_LU = 0.5  # the master aims at 0.2 LU; short pieces gate a little differently
PEAK_SLACK_DB = 1e-3
# A cue is honoured when the largest onset within this distance of it is among the strongest of the piece
# and the louder section after it is louder.
CUE_WINDOW_S = 0.06
CUE_ONSET_RANK = 0.9
SECTION_LIFT = 1.2
# Loop seam: the wrap must be no bigger a step than the piece's own 99.9th-percentile sample step, and
# both ends must sound (no fade to silence).
SEAM_PERCENTILE = 99.9
EDGE_S = 0.01
SILENCE = 1e-3


def contract_brief(duration: float = 2.5, seed: int = 5, **update: Any) -> MusicBrief:
    """A plain pop brief with planned sections."""
    from weavewave.bridge import with_sections
    from weavewave.music.styles import GENRES

    brief = MusicBrief(
        caption="a calm piano piece",
        duration_s=duration,
        tempo_bpm=120.0,
        key=Key(tonic="E", mode="minor"),
        genre="pop",
        instruments=list(GENRES["pop"].ensemble),
        seed=seed,
    )
    return with_sections(brief).model_copy(update=update)


def cue_brief(cue_s: float = 4.0, duration: float = 6.0) -> MusicBrief:
    """A quiet verse, then a loud chorus from a section cue on a bar line (as a video cut makes them)."""
    return contract_brief(
        duration,
        sections=[
            Section(start_s=0.0, end_s=cue_s, label="verse", energy=0.3),
            Section(start_s=cue_s, end_s=duration, label="chorus", energy=0.9),
        ],
        cues=[Cue(time_s=cue_s, kind="section", label="cut")],
    )


def loop_brief() -> MusicBrief:
    """Two bars at 120 BPM made into a loop the way ``--loop`` makes one."""
    from weavewave.bridge.loop import as_loop

    return as_loop(contract_brief(4.0))


def reference_brief() -> MusicBrief:
    """A brief that keeps a tune from a reference recording (as ``--audio`` makes one)."""
    tune = [(float(i), 1.0, 64 + (0, 2, 4, 5, 7, 5, 4, 2)[i], 90) for i in range(8)]
    ref = ReferenceMaterial(
        source="tune.wav", tempo_bpm=120.0, key=Key(tonic="E", mode="minor"), length_qn=8.0, melody=tune
    )
    return contract_brief(reference=ref)


def write_tune(path: Path, midi_notes: list[int], note_s: float = 0.4, sr: int = 32000) -> Path:
    """A recording of a tune of pure tones (a melody for melody conditioning)."""
    t = np.arange(int(note_s * sr)) / sr
    tones = [0.3 * np.sin(2 * np.pi * 440.0 * 2 ** ((m - 69) / 12) * t) for m in midi_notes]
    sf.write(path, np.concatenate(tones).astype(np.float32), sr)
    return path


def check_track_contract(track: Track, brief: MusicBrief, *, midi: bool) -> None:
    """What every generated track promises: exact length, 48 kHz stereo float32, mastered, the brief kept
    (plus the record of the generator that made it), MIDI exactly when ``midi``."""
    assert track.sample_rate == SAMPLE_RATE
    assert track.audio.shape == (int(round(brief.duration_s * SAMPLE_RATE)), 2)
    assert track.audio.dtype == np.float32 and np.isfinite(track.audio).all()
    assert track.brief.model_copy(update={"generator": None}) == brief.model_copy(update={"generator": None})
    assert abs(integrated_lufs(track.audio, SAMPLE_RATE) - TARGET_LUFS) < LOUDNESS_TOLERANCE_LU
    assert true_peak_dbfs(track.audio, SAMPLE_RATE) <= TRUE_PEAK_LIMIT_DBFS + PEAK_SLACK_DB
    assert (track.arrangement is not None) == midi


def saved_bytes(track: Track, folder: Path) -> dict[str, bytes]:
    save_track(track, folder)
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def onset_rank(audio: np.ndarray, at_s: float) -> float:
    """Where the strongest onset near ``at_s`` ranks among all the piece's onsets (1: the strongest)."""
    n_fft, hop = 2048, 256
    mono = audio.mean(axis=1)
    frames = np.lib.stride_tricks.sliding_window_view(mono, n_fft)[::hop] * np.hanning(n_fft)
    mag = np.log1p(np.abs(np.fft.rfft(frames, axis=1)))
    flux = np.maximum(mag[1:] - mag[:-1], 0.0).sum(axis=1)
    times = (np.arange(len(flux)) + 1) * hop / SAMPLE_RATE + n_fft / 2 / SAMPLE_RATE
    near = flux[np.abs(times - at_s) < CUE_WINDOW_S].max()
    return float((flux < near).mean())


def rms(audio: np.ndarray, start_s: float, end_s: float) -> float:
    seg = audio[int(start_s * SAMPLE_RATE) : int(end_s * SAMPLE_RATE)]
    return float(np.sqrt(np.mean(seg.astype(np.float64) ** 2)))


class GeneratorContract:
    """Tests every generator passes. Subclass, set ``backend`` and override the fixtures as needed."""

    backend: str = ""

    # --- what a backend's tests provide ------------------------------------------------------------------
    @pytest.fixture(scope="class")
    @classmethod
    def options(cls) -> dict[str, Any]:
        """Options of a plain generator of this backend."""
        return {}

    @pytest.fixture(scope="class")
    @classmethod
    def melody_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        """Options of a generator that takes a melody (e.g. a melody model), when the backend can."""
        return options

    @pytest.fixture(scope="class")
    @classmethod
    def runtime_options(cls) -> dict[str, Any]:
        """Options a recorded brief does not hold (a model cache, a device) for ``generator_from_brief``."""
        return {}

    # --- shared pieces --------------------------------------------------------------------------------------
    @pytest.fixture(scope="class")
    @classmethod
    def generator(cls, options: dict[str, Any]) -> Any:
        return get_generator(cls.backend, **options)

    @pytest.fixture(scope="class")
    @classmethod
    def track(cls, generator: Any) -> Track:
        return generator.generate(contract_brief())

    # --- the contract ---------------------------------------------------------------------------------------
    def test_is_registered_and_declares_its_contract(self, generator):
        assert self.backend in BACKENDS and generator.name == self.backend
        assert isinstance(generator.capabilities, Capabilities)
        assert isinstance(capabilities_of(self.backend), Capabilities)
        assert issubclass(type(generator).Options, GeneratorOptions)

    def test_unknown_option_is_refused(self):
        with pytest.raises(BadInputError, match="no option 'no_such_option'"):
            get_generator(self.backend, no_such_option=1)

    def test_same_seed_same_bytes(self, options, track, tmp_path):
        again = get_generator(self.backend, **options).generate(contract_brief())
        assert saved_bytes(track, tmp_path / "a") == saved_bytes(again, tmp_path / "b")

    def test_different_seed_different_bytes(self, generator, track):
        other = generator.generate(contract_brief(seed=6))
        assert not np.array_equal(track.audio, other.audio)

    def test_exact_length_and_loudness_and_true_peak(self, generator, track):
        check_track_contract(track, contract_brief(), midi=generator.capabilities.midi)

    def test_midi_exactly_when_promised(self, generator, track, tmp_path):
        assert (track.arrangement is not None) == generator.capabilities.midi
        assert ("music.mid" in saved_bytes(track, tmp_path)) == generator.capabilities.midi

    def test_brief_is_kept_and_records_the_generator(self, track):
        record = track.brief.generator
        assert record is not None and record.backend == self.backend
        # the piece's brief is the asked-for brief plus the record
        assert track.brief.model_copy(update={"generator": None}) == contract_brief()
        assert MusicBrief.from_json(track.brief.to_json()) == track.brief

    def test_recorded_brief_makes_the_same_piece(self, track, runtime_options):
        brief = MusicBrief.from_json(track.brief.to_json())
        again = generator_from_brief(brief, **runtime_options).generate(brief)
        assert np.array_equal(again.audio, track.audio)
        assert again.brief == track.brief

    def test_stems_sum_to_the_mix_or_are_refused(self, options):
        if not capabilities_of(self.backend).stems:
            with pytest.raises(BadInputError, match="stems"):
                get_generator(self.backend, **options, stems=True)
            return
        track = get_generator(self.backend, **options, stems=True).generate(contract_brief())
        assert track.stems and all(s.shape == track.audio.shape for s in track.stems.values())
        total = sum(s.astype(np.float64) for s in track.stems.values())
        # each synthesizer pass (a stem, or a pass of the mix) rounds to 16 bits before the master gain
        step = (len(track.stems) + 2) / 32768 * 10 ** (track.stats.get("gain_db", 0.0) / 20)
        assert np.abs(total - track.audio).max() < step

    def test_loop_has_a_seam_or_is_refused(self, generator):
        brief = loop_brief()
        if not generator.capabilities.loop:
            with pytest.raises(BadInputError, match="loop"):
                generator.generate(brief)
            return
        audio = generator.generate(brief).audio
        mono = audio.mean(axis=1)
        within = np.percentile(np.abs(np.diff(mono)), SEAM_PERCENTILE)
        assert abs(mono[0] - mono[-1]) <= within
        edge = int(EDGE_S * SAMPLE_RATE)
        assert np.abs(audio[:edge]).max() > SILENCE and np.abs(audio[-edge:]).max() > SILENCE

    def test_cues_are_honoured_or_refused(self, generator):
        brief = cue_brief()
        if not generator.capabilities.timeline:
            with pytest.raises(BadInputError, match="cuts"):
                generator.generate(brief)
            with pytest.raises(BadInputError, match="cuts"):  # a tempo map alone is a timeline too
                generator.generate(contract_brief(6.0, warp=[(0.0, 0.0), (5.8, 6.0)]))
            return
        audio = generator.generate(brief).audio
        cue = brief.cues[0].time_s
        assert onset_rank(audio, cue) >= CUE_ONSET_RANK
        assert rms(audio, cue, cue + 1.5) > SECTION_LIFT * rms(audio, cue - 1.5, cue)

    def test_reference_tune_is_kept_or_refused(self, generator):
        brief = reference_brief()
        if not generator.capabilities.reference:
            with pytest.raises(BadInputError, match="reference"):
                generator.generate(brief)
            return
        assert generator.generate(brief).audio.shape[0] == int(round(brief.duration_s * SAMPLE_RATE))

    def test_two_melodies_give_two_pieces_or_are_refused(self, melody_options, tmp_path):
        up = write_tune(tmp_path / "up.wav", [60, 64, 67, 72, 67, 64])
        other = write_tune(tmp_path / "other.wav", [66, 61, 58, 54, 58, 61])
        if not capabilities_of(self.backend).melody:
            with pytest.raises(BadInputError, match="melody"):
                get_generator(self.backend, **melody_options, melody=str(up))
            return
        brief = contract_brief()
        a = get_generator(self.backend, **melody_options, melody=str(up)).generate(brief)
        b = get_generator(self.backend, **melody_options, melody=str(other)).generate(brief)
        again = get_generator(self.backend, **melody_options, melody=str(up)).generate(brief)
        assert np.array_equal(a.audio, again.audio)
        assert not np.array_equal(a.audio, b.audio)  # the melody is not silently ignored
        assert a.brief.generator.files["melody"].name == "up.wav"
        assert a.brief.generator.files["melody"].sha256 != b.brief.generator.files["melody"].sha256
