"""audio_io: file writing round trips, and loudness / peak measurements checked against references."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from weavewave.dsp.loudness import integrated_lufs, sample_peak_dbfs, true_peak_dbfs, true_peak_envelope
from weavewave.errors import BadInputError
from weavewave.io.audio import FORMATS, write_audio

SR = 48000


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def _tone(seconds: float, freq: float = 440.0, amp: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    left = amp * np.sin(2 * np.pi * freq * t)
    return np.stack([left, 0.6 * left], axis=1).astype(np.float32)


@pytest.mark.parametrize("fmt", ["wav", "flac"], ids=["wav", "flac"])
def test_lossless_round_trip(tmp_path, fmt):
    audio = _tone(1.5)
    path = tmp_path / f"x.{fmt}"
    write_audio(path, audio, SR, fmt)
    back, sr = sf.read(path, dtype="float32")
    info = sf.info(path)
    assert (sr, info.channels, info.subtype) == (SR, 2, "PCM_24")
    assert back.shape == audio.shape
    assert np.abs(back - audio).max() < 2**-22  # 24-bit quantisation


def test_mp3_round_trip(tmp_path):
    assert "mp3" in FORMATS
    audio = _tone(2.0)
    path = tmp_path / "x.mp3"
    write_audio(path, audio, SR, "mp3")
    back, sr = sf.read(path, dtype="float32")
    assert sr == SR and back.ndim == 2 and back.shape[1] == 2
    assert abs(back.shape[0] - audio.shape[0]) <= 2 * 1152  # at most an MP3 frame or two of padding
    rms = lambda a: float(np.sqrt(np.mean(a.astype(np.float64) ** 2)))  # noqa: E731
    assert rms(back) == pytest.approx(rms(audio), rel=0.05)


@pytest.mark.parametrize("fmt", FORMATS)
def test_writes_are_deterministic(tmp_path, fmt):
    audio = _tone(1.0)
    write_audio(tmp_path / f"a.{fmt}", audio, SR, fmt)
    write_audio(tmp_path / f"b.{fmt}", audio, SR, fmt)
    assert (tmp_path / f"a.{fmt}").read_bytes() == (tmp_path / f"b.{fmt}").read_bytes()


def test_mono_write(tmp_path):
    write_audio(tmp_path / "m.wav", _tone(0.5)[:, 0], SR)
    assert sf.info(tmp_path / "m.wav").channels == 1


def test_unknown_format_lists_valid_ones(tmp_path):
    with pytest.raises(BadInputError, match="wav, flac, mp3"):
        write_audio(tmp_path / "x.ogg", _tone(0.1), SR, "ogg")


@pytest.mark.parametrize(
    "bad",
    [np.zeros((0, 2), np.float32), np.full((10, 2), np.nan, np.float32), np.zeros((10, 2), np.int16)],
    ids=["empty", "nan", "int"],
)
def test_bad_audio_is_refused(tmp_path, bad):
    with pytest.raises(BadInputError):
        write_audio(tmp_path / "x.wav", bad, SR)


def test_out_of_range_samples_clip_instead_of_wrapping(tmp_path):
    audio = np.full((100, 2), 1.5, np.float32)
    audio[50:] = -1.5
    write_audio(tmp_path / "x.wav", audio, SR)
    back, _ = sf.read(tmp_path / "x.wav", dtype="float32")
    assert back[:50].min() > 0.99 and back[50:].max() < -0.99


def test_mp3_refuses_unsupported_rate(tmp_path):
    with pytest.raises(BadInputError, match="MP3"):
        write_audio(tmp_path / "x.mp3", _tone(0.5, sr=22050), 22050, "mp3")


@pytest.mark.parametrize(
    "sr,seconds,channels",
    [(48000, 20.0, 2), (44100, 3.3, 1), (32000, 1.7, 2), (12345, 2.0, 2)],
    ids=["48k", "44k1-mono", "32k", "odd-rate"],
)
def test_lufs_agrees_with_pyloudnorm(rng, sr, seconds, channels):
    n = int(seconds * sr)
    audio = (rng.standard_normal((n, channels)) * np.linspace(0.01, 0.3, n)[:, None]).astype(np.float32)
    ours = integrated_lufs(audio, sr)
    reference = pyloudnorm.Meter(sr).integrated_loudness(audio.astype(np.float64))
    assert ours == pytest.approx(reference, abs=0.01)


def test_lufs_of_full_scale_sine():
    # BS.1770: a 0 dBFS 997 Hz sine in one channel reads -3.01 LUFS
    t = np.arange(5 * SR) / SR
    assert integrated_lufs(np.sin(2 * np.pi * 997 * t), SR) == pytest.approx(-3.01, abs=0.05)


def test_lufs_none_for_silence_and_too_short():
    assert integrated_lufs(np.zeros((SR, 2)), SR) is None
    assert integrated_lufs(np.full((SR, 2), 1e-6), SR) is None  # under the -70 LUFS gate
    assert integrated_lufs(_tone(0.3), SR) is None


def test_true_peak_finds_inter_sample_peak():
    # a sine at a quarter of the sample rate, sampled 45 degrees off its crests: samples read -3 dB low
    t = np.arange(SR) / SR
    x = 0.5 * np.sin(2 * np.pi * (SR / 4) * t + np.pi / 4)
    assert sample_peak_dbfs(x) == pytest.approx(20 * math.log10(0.5) - 3.01, abs=0.05)
    assert true_peak_dbfs(x, SR) == pytest.approx(20 * math.log10(0.5), abs=0.2)


def test_true_peak_matches_a_reference_oversampler(rng):
    audio = (rng.standard_normal((3 * SR, 2)) * 0.2).astype(np.float32)
    reference = 20 * math.log10(np.abs(resample_poly(audio, 4, 1, axis=0)).max())
    measured = true_peak_dbfs(audio, SR)
    assert measured >= sample_peak_dbfs(audio)
    assert measured == pytest.approx(reference, abs=0.2)


def test_true_peak_envelope_threshold_is_exact_where_it_matters(rng):
    audio = (rng.standard_normal((SR, 2)) * 0.1).astype(np.float32)
    audio[SR // 2] = 0.9
    full = true_peak_envelope(audio)
    pruned = true_peak_envelope(audio, threshold=0.5)
    assert full.shape == (SR,) and full.dtype == np.float32
    loud = full >= 0.5
    assert loud.any() and np.array_equal(full[loud], pruned[loud])
    assert np.all(pruned <= full)


def test_peaks_of_silence():
    assert true_peak_dbfs(np.zeros((100, 2)), SR) == float("-inf")
    assert sample_peak_dbfs(np.zeros((100, 2))) == float("-inf")
