"""render: SoundFont choice, synthesis, mix and master, checked with independent measurements."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pyloudnorm
import pytest
from scipy.signal import resample_poly

from weavewave.errors import BadInputError
from weavewave.generators.symbolic import render as render_module
from weavewave.generators.symbolic import soundfont as soundfont_module
from weavewave.generators.symbolic.render import SAMPLE_RATE, Mix, render
from weavewave.generators.symbolic.soundfont import find_soundfont
from weavewave.io.audio import write_audio
from weavewave.music.arrangement import Arrangement, Note, Part

SR = SAMPLE_RATE


def _part(name: str, notes: list[Note], *, program: int = 0, drum: bool = False, **mix) -> Part:
    return Part(name=name, instrument=name, program=program, is_drum=drum, role="melody", notes=notes, **mix)


def _arrangement(parts: list[Part], duration: float) -> Arrangement:
    return Arrangement(
        parts=parts, tempo_bpm=120, meter="4/4", duration_s=duration, key_tonic="C", key_mode="major"
    )


def _band(duration: float = 5.0) -> Arrangement:
    beats = np.arange(0, duration - 0.5, 0.5)
    chords = [Note(p, 80, t, t + 1.9) for t in np.arange(0, duration - 1, 2.0) for p in (60, 64, 67)]
    bass = [Note(36 + (i % 2) * 7, 95, t, t + 0.45) for i, t in enumerate(beats)]
    drums = [Note(36 if i % 2 == 0 else 38, 110, t, t + 0.1) for i, t in enumerate(beats)]
    drums += [Note(42, 70, t + 0.25, t + 0.3) for t in beats]
    return _arrangement(
        [
            _part("keys: Piano", chords, program=0, pan=-0.3, reverb=0.3),
            _part("bass: Finger Bass", bass, program=33, gain_db=-2.0, reverb=0.05),
            _part("drums: Kit", drums, drum=True, reverb=0.1),
        ],
        duration,
    )


@pytest.fixture(scope="module")
def band_mix() -> Mix:
    return render(_band(), stems=True)


def _stem_tolerance(mix: Mix) -> float:
    """What the stems may miss the mix by: each synthesizer pass (a stem, or a pass of the mix, at most
    two) quantises to 16 bits, up to one step each, before the master gain. Measured: 2e-4 .. 3.4e-4 on
    30 s and 120 s lofi and classical pieces (about half this bound)."""
    gain = 10 ** (mix.stats["gain_db"] / 20)
    return (len(mix.stems) + 2) / 32768 * gain


def _lufs(audio: np.ndarray) -> float:
    return pyloudnorm.Meter(SR).integrated_loudness(audio.astype(np.float64))


def _true_peak_db(audio: np.ndarray) -> float:
    return 20 * math.log10(np.abs(resample_poly(audio.astype(np.float64), 4, 1, axis=0)).max())


def _energy(audio: np.ndarray) -> float:
    return float(np.sum(audio.astype(np.float64) ** 2))


# --- mastering ----------------------------------------------------------------------------------------
def test_master_meets_loudness_and_true_peak(band_mix):
    audio = band_mix.audio
    assert audio.dtype == np.float32 and audio.shape == (5 * SR, 2)
    assert _lufs(audio) == pytest.approx(-14.0, abs=1.0)
    assert _true_peak_db(audio) <= -1.0
    assert np.abs(audio).max() < 1.0
    assert band_mix.stats["lufs"] == pytest.approx(_lufs(audio), abs=0.05)
    assert band_mix.stats["true_peak_dbfs"] <= -1.0
    assert band_mix.stats["soundfont"].endswith(".sf2")
    assert band_mix.sample_rate == SR


def test_stems_sum_to_the_mix_and_are_named_by_part(band_mix):
    assert list(band_mix.stems) == ["keys: Piano", "bass: Finger Bass", "drums: Kit"]
    for stem in band_mix.stems.values():
        assert stem.shape == band_mix.audio.shape and stem.dtype == np.float32
        assert _energy(stem) > 0
    total = sum(s.astype(np.float64) for s in band_mix.stems.values())
    assert np.abs(total - band_mix.audio).max() < _stem_tolerance(band_mix)


def test_mix_does_not_depend_on_asking_for_stems(band_mix):
    plain = render(_band())
    assert plain.stems == {}
    assert np.array_equal(plain.audio, band_mix.audio)
    assert plain.stats == band_mix.stats


def test_stems_of_a_long_piece_sum_to_the_mix():
    mix = render(_band(12.0), stems=True)  # long enough for the mix to be split into passes
    total = sum(s.astype(np.float64) for s in mix.stems.values())
    assert np.abs(total - mix.audio).max() < _stem_tolerance(mix)


def test_fades_start_and_end_in_silence(band_mix):
    audio = band_mix.audio
    assert np.all(audio[0] == 0) and np.all(audio[-1] == 0)
    tail = audio[-int(0.05 * SR) :]
    assert np.abs(tail).max() < 0.1 * np.abs(audio).max()


@pytest.mark.parametrize("duration", [1.0, 2.5, 3.3333, 4.00001], ids=str)
def test_exact_length(duration):
    mix = render(_arrangement([_part("p", [Note(60, 90, 0.0, 0.8)])], duration), stems=True)
    assert mix.audio.shape == (round(duration * SR), 2)
    assert mix.stems["p"].shape == mix.audio.shape
    assert mix.stats["duration_s"] == pytest.approx(round(duration * SR) / SR)


def test_notes_past_the_end_are_cut_and_final_chord_rings():
    chord = [Note(p, 90, 1.0, 3.0) for p in (60, 64, 67)]
    mix = render(_arrangement([_part("p", chord, reverb=0.0)], 3.0))
    assert mix.audio.shape == (3 * SR, 2)
    # the chord is still sounding under the fade-out, not cut dead at the last note-off
    assert np.abs(mix.audio[int(2.5 * SR) : int(2.9 * SR)]).max() > 0.01


def test_silent_arrangements():
    for parts in ([], [_part("empty", [])]):
        mix = render(_arrangement(parts, 2.0), stems=True)
        assert mix.audio.shape == (2 * SR, 2)
        assert np.all(np.isfinite(mix.audio)) and not np.any(mix.audio)
        assert mix.stats["lufs"] is None and mix.stats["true_peak_dbfs"] is None
        assert len(mix.stems) == len(parts)
        assert all(not np.any(s) for s in mix.stems.values())


def test_short_piece_below_one_loudness_block():
    mix = render(_arrangement([_part("p", [Note(60, 90, 0.0, 0.2)])], 0.3))
    assert mix.audio.shape == (round(0.3 * SR), 2)
    assert np.abs(mix.audio).max() < 1.0 and mix.stats["lufs"] is None


def test_deterministic_arrays_and_file_bytes(band_mix, tmp_path):
    again = render(_band(), stems=True)
    assert np.array_equal(again.audio, band_mix.audio)
    for name, stem in band_mix.stems.items():
        assert np.array_equal(again.stems[name], stem)
    write_audio(tmp_path / "a.wav", band_mix.audio, SR)
    write_audio(tmp_path / "b.wav", again.audio, SR)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


def test_process_pool_gives_the_same_output(band_mix):
    pooled = render(_band(), workers=2, stems=True)
    assert np.array_equal(pooled.audio, band_mix.audio)
    assert all(np.array_equal(pooled.stems[k], v) for k, v in band_mix.stems.items())


def test_progress_is_reported_per_part():
    calls = []
    render(_band(2.0), progress=lambda f, m: calls.append((f, m)), stems=True)
    assert len(calls) == 5  # the mix, three stems, mastering
    assert [f for f, _ in calls] == sorted(f for f, _ in calls) and calls[-1][0] == 1.0
    assert all(0.0 < f <= 1.0 for f, _ in calls)


# --- mix ----------------------------------------------------------------------------------------------
def test_hard_left_pan():
    mix = render(
        _arrangement(
            [_part("p", [Note(60, 90, 0.2, 1.5), Note(67, 90, 0.5, 1.5)], pan=-1.0, reverb=0.0)], 2.0
        )
    )
    left, right = _energy(mix.audio[:, 0]), _energy(mix.audio[:, 1])
    assert right < 1e-3 * left


def _synth(parts: list[Part], volumes: list[int], duration: float = 2.0) -> np.ndarray:
    midi = render_module._midi_bytes(_arrangement(parts, duration), parts, volumes)
    sf2 = soundfont_module.load_soundfont(find_soundfont())
    return render_module._synth_pcm(sf2, midi, int(duration * SR)).astype(np.float64) / 32768


def test_pan_keeps_power():
    notes = [Note(60, 90, 0.2, 1.5)]
    centre = _energy(_synth([_part("p", notes, reverb=0.0)], [100]))
    for pan in (-1.0, -0.4, 0.7, 1.0):
        panned = _energy(_synth([_part("p", notes, reverb=0.0, pan=pan)], [100]))
        assert 10 * math.log10(panned / centre) == pytest.approx(0.0, abs=0.5)


def test_channel_volume_follows_part_gain():
    notes = [Note(60, 90, 0.2, 1.5)]
    parts = [_part("a", notes, gain_db=0.0), _part("b", notes, gain_db=-9.0)]
    volumes = render_module._channel_volumes(parts, 0.0)
    ratio_db = 10 * math.log10(
        _energy(_synth(parts[1:], volumes[1:])) / _energy(_synth(parts[:1], volumes[:1]))
    )
    assert ratio_db == pytest.approx(-9.0, abs=0.4)


def test_every_part_gets_its_own_channel():
    import mido

    notes = [Note(60, 90, 0.0, 0.5)]
    parts = [_part(f"m{k}", notes, program=k) for k in range(20)]
    parts[3:3] = [_part("kit", notes, drum=True), _part("perc", notes, drum=True)]
    groups = render_module._channel_groups(parts, 1.0)
    assert sorted(i for g in groups for i in g) == list(range(len(parts)))
    for group in groups:
        midi = mido.MidiFile(
            file=__import__("io").BytesIO(
                render_module._midi_bytes(
                    _arrangement(parts, 1.0), [parts[i] for i in group], [100] * len(group)
                )
            )
        )
        channels = []
        for track in midi.tracks[1:]:
            used = {m.channel for m in track if m.type == "note_on"}
            assert len(used) == 1
            channels += used
        assert len(channels) == len(set(channels)) == len(group)
        drums = [i for i in group if parts[i].is_drum]
        assert len(drums) <= 1 and (9 in channels) == bool(drums)


def test_louder_gain_gives_louder_stem():
    notes = [Note(p, 90, 0.1, 1.5) for p in (60, 64)]
    # dry: the synthesizer's reverb send falls faster than the channel volume (about 1.9 dB more at -12 dB)
    mix = render(
        _arrangement(
            [_part("loud", notes, gain_db=0.0, reverb=0.0), _part("soft", notes, gain_db=-12.0, reverb=0.0)],
            2.0,
        ),
        stems=True,
    )
    ratio_db = 10 * math.log10(_energy(mix.stems["loud"]) / _energy(mix.stems["soft"]))
    assert ratio_db == pytest.approx(12.0, abs=0.5)


def test_reverb_adds_a_tail():
    note = [Note(72, 100, 0.2, 0.4)]

    def tail_share(reverb: float) -> float:
        audio = render(_arrangement([_part("p", note, program=12, reverb=reverb)], 4.0)).audio
        return _energy(audio[int(1.2 * SR) : int(3.0 * SR)]) / _energy(audio)

    assert tail_share(0.8) > 5 * tail_share(0.0)


def test_repeated_part_names_get_distinct_stems():
    notes = [Note(60, 90, 0.1, 0.9)]
    mix = render(_arrangement([_part("p", notes), _part("p", notes)], 1.0), stems=True)
    assert list(mix.stems) == ["p", "p (2)"]


def test_synth_clipping_is_caught_and_rendered_quieter():
    cluster = [Note(p, 127, t, t + 0.45) for t in (0.0, 0.5, 1.0) for p in range(36, 84)]
    part = _part("p", cluster, program=30, reverb=0.0)
    raw = _synth([part], render_module._channel_volumes([part], 0.0))
    assert np.abs(raw).max() >= 32767 / 32768  # at full volume the synthesizer's 16-bit output clips
    mix = render(_arrangement([part], 2.0), stems=True)
    # rendered again quieter: no run of samples stuck at one level, and the stem still sums to the mix
    top = np.abs(mix.audio).max()
    assert np.count_nonzero(np.abs(mix.audio) >= top * 0.9999) < 10
    assert np.abs(mix.stems["p"] - mix.audio).max() < _stem_tolerance(mix)


@pytest.mark.parametrize("field,value", [("pan", 1.5), ("reverb", -0.1), ("gain_db", float("nan"))])
def test_bad_mix_settings(field, value):
    part = _part("p", [Note(60, 90, 0.0, 0.5)], **{field: value})
    with pytest.raises(BadInputError, match=field):
        render(_arrangement([part], 1.0))


@pytest.mark.parametrize("duration", [0.0, -1.0, float("inf")])
def test_bad_duration(duration):
    with pytest.raises(BadInputError, match="duration"):
        render(_arrangement([], duration))


# --- SoundFont choice ---------------------------------------------------------------------------------
def _fake_sf2(path, major: int = 2):
    info = (
        b"INFO"
        + b"ifil"
        + (4).to_bytes(4, "little")
        + major.to_bytes(2, "little")
        + (1).to_bytes(2, "little")
    )
    body = b"sfbk" + b"LIST" + len(info).to_bytes(4, "little") + info
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
    return path


@pytest.fixture
def no_system_soundfonts(monkeypatch):
    monkeypatch.delenv(soundfont_module.SOUNDFONT_ENV, raising=False)
    monkeypatch.setattr(soundfont_module, "SYSTEM_SOUNDFONTS", ())


def test_default_is_the_bundled_soundfont(no_system_soundfonts):
    assert find_soundfont().name == "TimGM6mb.sf2"


def test_precedence_explicit_then_env_then_system(tmp_path, monkeypatch, no_system_soundfonts):
    explicit, from_env, system = (_fake_sf2(tmp_path / f"{n}.sf2") for n in ("explicit", "env", "system"))
    monkeypatch.setattr(soundfont_module, "SYSTEM_SOUNDFONTS", (str(tmp_path / "absent.sf2"), str(system)))
    assert find_soundfont() == system
    monkeypatch.setenv(soundfont_module.SOUNDFONT_ENV, str(from_env))
    assert find_soundfont() == from_env
    assert find_soundfont(explicit) == explicit


def test_system_soundfont_that_is_not_sf2_is_skipped(tmp_path, monkeypatch, no_system_soundfonts):
    bad = tmp_path / "default.sf2"
    bad.write_text("not a soundfont")
    monkeypatch.setattr(soundfont_module, "SYSTEM_SOUNDFONTS", (str(bad),))
    assert find_soundfont().name == "TimGM6mb.sf2"


def test_missing_soundfont(tmp_path, monkeypatch, no_system_soundfonts):
    with pytest.raises(BadInputError, match="soundfont not found: .*nope.sf2; check the path"):
        find_soundfont(tmp_path / "nope.sf2")
    monkeypatch.setenv(soundfont_module.SOUNDFONT_ENV, str(tmp_path / "gone.sf2"))
    with pytest.raises(BadInputError, match="WEAVEWAVE_SOUNDFONT"):
        find_soundfont()


@pytest.mark.parametrize("kind", ["sf3-suffix", "sf3-version", "text"])
def test_only_sf2_is_supported(tmp_path, kind, no_system_soundfonts):
    if kind == "sf3-suffix":
        path = _fake_sf2(tmp_path / "font.sf3")
    elif kind == "sf3-version":
        path = _fake_sf2(tmp_path / "font.sf2", major=3)
    else:
        path = tmp_path / "font.sf2"
        path.write_text("hello, I am a text file\n" * 10)
    with pytest.raises(BadInputError, match="only SF2"):
        find_soundfont(path)
    with pytest.raises(BadInputError, match="only SF2"):
        render(_arrangement([], 1.0), soundfont=path)


def test_render_with_an_explicit_copy_of_the_soundfont(tmp_path, no_system_soundfonts):
    copy = tmp_path / "copy.sf2"
    shutil.copy(find_soundfont(), copy)
    mix = render(_arrangement([_part("p", [Note(60, 90, 0.0, 0.5)])], 1.0), soundfont=copy)
    assert mix.stats["soundfont"] == "copy.sf2"


def test_stems_write_to_files(band_mix, tmp_path):
    import soundfile as sf

    stem = band_mix.stems["bass: Finger Bass"]
    write_audio(tmp_path / "bass.flac", stem, SR, "flac")
    back, sr = sf.read(tmp_path / "bass.flac", dtype="float32")
    assert sr == SR and back.shape == stem.shape
    assert np.abs(back - stem).max() < 2**-22


def test_concurrent_renders_in_threads_do_not_mix_up(band_mix):
    from concurrent.futures import ThreadPoolExecutor

    single = render(_arrangement([_part("p", [Note(60, 90, 0.0, 0.5)])], 1.0))
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(
            lambda arr: render(arr, workers=1),
            [_band(), _arrangement([_part("p", [Note(60, 90, 0.0, 0.5)])], 1.0)],
        )
    assert np.array_equal(a.audio, band_mix.audio) and np.array_equal(b.audio, single.audio)


def test_corrupt_sf2_is_a_bad_input(tmp_path, no_system_soundfonts):
    truncated = _fake_sf2(tmp_path / "truncated.sf2")  # a valid header with nothing behind it
    with pytest.raises(BadInputError, match="cannot render with truncated.sf2"):
        render(_arrangement([_part("p", [Note(60, 90, 0.0, 0.5)])], 1.0), soundfont=truncated)


def test_balance_evens_out_program_loudness():
    # A sparse, soft-velocity glockenspiel line against a dense, loud organ line at the same gain: the
    # synth alone leaves them far apart; balance brings each stem to its gain_db relative to the other.
    glock = [Note(84, 50, t, t + 0.2) for t in np.arange(0.1, 3.6, 1.0)]
    organ = [Note(p, 110, 0.1, 3.8) for p in (48, 55, 60, 64)]
    parts = [
        _part("glock", glock, program=9, reverb=0.0),
        _part("organ", organ, program=16, reverb=0.0, gain_db=-4.0),
    ]

    def gap(balance: bool) -> float:
        mix = render(_arrangement(parts, 4.0), stems=True, balance=balance)
        return _lufs(mix.stems["glock"]) - _lufs(mix.stems["organ"])

    assert abs(gap(False) - 4.0) > 6.0
    assert gap(True) == pytest.approx(4.0, abs=2.0)


def _wav_with_trailing_chunk(frames: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """A 16-bit WAV of ``frames`` followed by a LIST chunk (as some writers append), RIFF size fixed up."""
    import io
    import struct

    import soundfile

    buf = io.BytesIO()
    soundfile.write(buf, frames, rate, subtype="PCM_16", format="WAV")
    wav = buf.getvalue() + b"LIST" + struct.pack("<I", 8) + b"INFOabcd"
    return wav[:4] + struct.pack("<I", len(wav) - 8) + wav[8:]


def test_synth_output_is_read_by_its_wav_header(monkeypatch):
    """The synthesizer's WAV bytes are read with soundfile: the data chunk's own length counts, so bytes
    after it are not heard as audio (the hand parser read to the end of the file); short output is padded."""
    import midirenderer

    frames = (np.arange(200, dtype=np.int16).reshape(100, 2) - 100) * 300
    monkeypatch.setattr(midirenderer, "render_wave_from", lambda sf2, midi: _wav_with_trailing_chunk(frames))
    pcm = render_module._synth_pcm(b"sf2", b"midi", 120)
    assert pcm.dtype == np.int16 and pcm.shape == (2, 120)
    np.testing.assert_array_equal(pcm[:, :100], frames.T)
    assert not pcm[:, 100:].any()
    monkeypatch.setattr(
        midirenderer, "render_wave_from", lambda sf2, midi: _wav_with_trailing_chunk(frames, rate=44100)
    )
    with pytest.raises(RuntimeError, match="2 channels at 44100 Hz"):
        render_module._synth_pcm(b"sf2", b"midi", 120)
