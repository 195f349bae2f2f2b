"""The genre's sound, not only its notes: a per-part effects stage after the synthesizer.

A General MIDI SoundFont plays every genre clean. Listeners expect lo-fi to be dusty (muffled highs, a
little saturation, tape wow), ambient and cinematic pads to bloom in a long hall, electronic builds to
open a filter and rise into the drop, and rock guitars to be driven. Each genre's treatment is data
(``GENRE_EFFECTS``: role -> a chain of named effects with their settings); :func:`plan_effects` turns it
into one function per part that :func:`weavewave.generators.symbolic.render.render` applies to the part's own synthesizer
pass before the mix is summed and mastered, so stems keep summing to the mix.

Everything is plain numpy and ``scipy.signal`` (already a base dependency): deterministic, no system
libraries, nothing imported until a piece is rendered.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from weavewave.music.arrangement import Arrangement, Note, Part

# --- the effects, as data -------------------------------------------------------------------------------
# An effect is (name, settings); a chain runs left to right. Names are the keys of ``_EFFECTS``.
Chain = tuple[tuple[str, dict[str, Any]], ...]

# Lo-fi: a soft low-pass (a dusty sampler, not a clean GM piano), gentle tape saturation, and a slow wow
# on the keys (a few cents of pitch wobble, as a worn cassette drifts).
LOFI_KEYS: Chain = (
    ("lowpass", {"cutoff_hz": 4200.0}),
    ("saturate", {"drive_db": 6.0}),
    ("wow", {"rate_hz": 0.55, "depth_cents": 9.0}),
)
LOFI_DRUMS: Chain = (("lowpass", {"cutoff_hz": 5000.0}), ("saturate", {"drive_db": 8.0}))
LOFI_BASS: Chain = (("saturate", {"drive_db": 4.0}),)
# Ambient and cinematic: a long, dark hall on the sustained parts. It replaces the synthesizer's own
# reverb (about 1.2 s) on those parts: their reverb send is set to 0 for the render, so it is not doubled.
AMBIENT_HALL: Chain = (("reverb", {"decay_s": 6.0, "wet": 0.5, "damp_hz": 6000.0}),)
AMBIENT_KEYS_HALL: Chain = (("reverb", {"decay_s": 4.5, "wet": 0.4, "damp_hz": 7000.0}),)
CINEMATIC_HALL: Chain = (("reverb", {"decay_s": 3.5, "wet": 0.35, "damp_hz": 7000.0}),)
CINEMATIC_LEAD_HALL: Chain = (("reverb", {"decay_s": 2.8, "wet": 0.25, "damp_hz": 8000.0}),)
# Electronic: the synths' low-pass opens over each build (the riser part's notes mark the builds), from
# a muffled 350 Hz to fully open at the drop.
BUILD_SWEEP: Chain = (("sweep", {"from_hz": 350.0, "to_hz": 16000.0}),)
# Rock: the GM distortion guitar is thin and fizzy; an amp's drive and a cabinet's roll-off thicken it.
ROCK_RHYTHM: Chain = (("saturate", {"drive_db": 10.0}), ("lowpass", {"cutoff_hz": 6500.0}))

GENRE_EFFECTS: dict[str, dict[str, Chain]] = {
    "lofi": {
        "melody": LOFI_KEYS,
        "chords": LOFI_KEYS,
        "pad": LOFI_KEYS,
        "drums": LOFI_DRUMS,
        "bass": LOFI_BASS,
    },
    "ambient": {"pad": AMBIENT_HALL, "chords": AMBIENT_HALL, "melody": AMBIENT_KEYS_HALL},
    "cinematic": {"pad": CINEMATIC_HALL, "melody": CINEMATIC_LEAD_HALL},
    "electronic": {"pad": BUILD_SWEEP, "chords": BUILD_SWEEP},
    "rock": {"chords": ROCK_RHYTHM},
}
# The riser's own chain: white noise whose band climbs and swells over each note, into the drop.
RISER_CHAIN: Chain = (("riser", {"from_hz": 400.0, "to_hz": 9000.0, "noise_db": 0.0}),)

# The riser part (electronic builds): GM "Reverse Cymbal" under a white-noise sweep, the last bars of each
# build. Its role is "drums" (an effect, not a harmony or tune part) so it is never voiced against the tune.
RISER_INSTRUMENT = "Reverse Cymbal"
RISER_PROGRAM = 119
RISER_PITCH = 60
RISER_VELOCITY = 100
RISER_MAX_BARS = 4  # the riser covers at most this many bars before the drop
RISER_GAIN_DB = -4.0  # relative to the lead, like the other roles' gains
RISER_GENRES = frozenset({"electronic"})
# Parts with the same chain of these effects share one synthesizer pass and one run of the chain
# (``EffectsPlan.groups``). They must be linear (the effect of a sum is the sum of the effects: not the
# saturation, whose drive follows the part's own peak, nor the riser, whose noise follows the part) and
# all but level-neutral, as the chain's level correction is then taken over the group: the sweep filters
# only the builds, and two synths' corrections differ by 0.06 dB (the mix moves 55 dB under itself). A
# hall's correction is 3-5 dB and two pads' differ by up to 0.3 dB (measured, ambient seeds 0-3), which
# would move the mix's octave bands by up to 0.17 dB: halls (and the linear low-pass and wow) keep a
# pass per part.
SHARED_PASS_EFFECTS = frozenset({"sweep"})

# --- tuning of the processors -----------------------------------------------------------------------------
FILTER_ORDER = 2  # 12 dB per octave: a gentle analogue-style slope
SWEEP_BLOCK = 1024  # samples between cutoff updates in a sweep (21 ms at 48 kHz: no audible steps)
SWEEP_Q = 1.4  # a little resonance at the moving cutoff: the synth filter sweep's familiar "wow"
SWEEP_OPEN_HZ_FRACTION = 0.45  # a cutoff at or above this fraction of the sample rate is no filter at all
REVERB_PREDELAY_S = 0.02
REVERB_SEED = 11  # the impulse response's noise: fixed, so the same piece gives the same bytes
REVERB_DB_PER_DECAY = 60.0  # decay_s is an RT60
RISER_NOISE_SEED = 23
RISER_SWELL_POWER = 2.0  # the swell's curve: amplitude grows as (t / span) ** power
RISER_Q = 1.2  # the noise band's width: centre / bandwidth
WOW_DELAY_S = 0.004  # the wow's centre delay; the modulation swings around it
# A hall's spectrum (per rate, decay, damping and FFT size) and a wow's read positions (per length, rate
# and depth) are kept: every part and every piece of the same length reuses them, and forked renderer
# processes inherit them from plan_effects. Only those for pieces up to this many samples are kept (about
# 87 s: 32 MB a hall, 17 MB a wow), at most EFFECT_CACHE_SIZE of each.
EFFECT_CACHE_MAX_SAMPLES = 1 << 22
EFFECT_CACHE_SIZE = 4
STEREO_SPREAD = 0.15  # a little width on the noise and the reverb tail (left/right decorrelation)


@dataclass
class EffectsPlan:
    """What :func:`plan_effects` decided for one arrangement.

    Attributes
    ----------
    arrangement : Arrangement
        The arrangement to render: the given one, with the synthesizer's reverb send removed from parts
        that get a reverb here (so the two do not double).
    effects : dict[int, callable]
        Part index -> ``effect(audio [shape=(2, n)], sample_rate) -> audio``, for ``render(effects=...)``.
    chains : dict[str, Chain]
        Part name -> the chain it gets (for the record and tests).
    groups : list[list[int]]
        Part indices, two or more, whose chains are the same and share a pass (``SHARED_PASS_EFFECTS``), for
        ``render(effect_groups=...)``: such parts may play in one pass whose sum the chain processes once
        (its level correction then taken over the group), when no stems are asked for.
    """

    arrangement: Arrangement
    effects: dict[int, Callable[[np.ndarray, int], np.ndarray]] = field(default_factory=dict)
    chains: dict[str, Chain] = field(default_factory=dict)
    groups: list[list[int]] = field(default_factory=list)


def chain_for(genre: str, part: Part) -> Chain:
    """The effects chain a part gets in a genre (empty: played as the synthesizer plays it)."""
    if part.instrument == RISER_INSTRUMENT and part.role == "drums":
        return RISER_CHAIN
    return GENRE_EFFECTS.get(genre, {}).get(part.role, ())


def build_spans(arrangement: Arrangement) -> list[tuple[float, float]]:
    """The builds of a piece, in seconds: the riser part's notes (none: no builds)."""
    spans: list[tuple[float, float]] = []
    for part in arrangement.parts:
        if part.instrument == RISER_INSTRUMENT and part.role == "drums":
            spans.extend((n.start, n.end) for n in part.notes)
    return sorted(spans)


def plan_effects(arrangement: Arrangement, genre: str) -> EffectsPlan:
    """Per-part effects for ``arrangement`` in ``genre``, ready for ``render(effects=...)``.

    Parameters
    ----------
    arrangement : Arrangement
        The composed piece.
    genre : str
        The brief's genre (a key of ``GENRE_EFFECTS``; others get no effects beyond a riser part's).

    Returns
    -------
    EffectsPlan
    """
    from weavewave.dsp.master import SAMPLE_RATE

    builds = build_spans(arrangement)
    parts = list(arrangement.parts)
    plan = EffectsPlan(arrangement)
    by_chain: dict[str, list[int]] = {}  # a shareable chain (as text: its settings are numbers) -> parts
    n_samples = int(round(arrangement.duration_s * SAMPLE_RATE))  # what render() hands each effect
    for i, part in enumerate(parts):
        chain = chain_for(genre, part)
        if any(name == "sweep" for name, _ in chain) and not builds:
            chain = tuple((name, kw) for name, kw in chain if name != "sweep")
        if not chain or not part.notes:
            continue
        if any(name == "reverb" for name, _ in chain):
            parts[i] = dataclasses.replace(part, reverb=0.0)  # this hall replaces the synth's
        plan.effects[i] = _chain_function(chain, part, builds, arrangement.duration_s)
        plan.chains[part.name] = chain
        if all(name in SHARED_PASS_EFFECTS for name, _ in chain):
            by_chain.setdefault(repr(chain), []).append(i)
        for name, kw in chain:  # computed here, once, so every renderer process inherits them
            if name == "reverb":
                size = _hall_fft_size(n_samples, SAMPLE_RATE, kw["decay_s"])
                _hall_spectrum(SAMPLE_RATE, kw["decay_s"], kw["damp_hz"], size)
            elif name == "wow":
                _wow_reader(n_samples, SAMPLE_RATE, kw["rate_hz"], kw["depth_cents"])
    plan.groups = [g for g in by_chain.values() if len(g) > 1]
    if any(p is not q for p, q in zip(parts, arrangement.parts, strict=True)):
        plan.arrangement = dataclasses.replace(arrangement, parts=parts)
    return plan


def riser_part(builds: list[tuple[float, float]], *, gain_db: float) -> Part:
    """The riser: one held note over each build span (s), played by ``RISER_INSTRUMENT``."""
    notes = [Note(RISER_PITCH, RISER_VELOCITY, s, e) for s, e in builds if e > s]
    return Part(
        name=f"drums: {RISER_INSTRUMENT}",
        instrument=RISER_INSTRUMENT,
        program=RISER_PROGRAM,
        is_drum=False,
        role="drums",
        notes=notes,
        pan=0.0,
        gain_db=gain_db,
        reverb=0.3,
    )


# --- the processors -----------------------------------------------------------------------------------
def _chain_function(
    chain: Chain, part: Part, builds: list[tuple[float, float]], duration_s: float
) -> Callable[[np.ndarray, int], np.ndarray]:
    def run(audio: np.ndarray, sr: int) -> np.ndarray:
        # float32 throughout: the synthesizer's output is 16-bit, far coarser than float32's rounding
        x = np.array(audio, np.float32)
        before = _rms(x)
        adds_sound = False
        for name, kw in chain:
            if name == "riser":
                x = riser(x, sr, spans=[(n.start, n.end) for n in part.notes], **kw)
                adds_sound = True
            elif name == "sweep":
                x = sweep(x, sr, spans=builds, **kw)
            else:
                x = _EFFECTS[name](x, sr, **kw)
        after = _rms(x)
        if not adds_sound and before > 0 and after > 0:
            x *= before / after  # colour, not level: the mix's balance stays the renderer's
        return x.astype(np.float32)

    return run


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x), dtype=np.float64))) if x.size else 0.0


def lowpass(x: np.ndarray, sr: int, *, cutoff_hz: float) -> np.ndarray:
    """Butterworth low-pass (``FILTER_ORDER``) of ``x`` [shape=(2, n)] at ``cutoff_hz``."""
    from scipy.signal import butter, sosfilt

    sos = butter(FILTER_ORDER, cutoff_hz, btype="low", fs=sr, output="sos")
    return sosfilt(sos.astype(x.dtype) if x.dtype == np.float32 else sos, x, axis=-1)


def saturate(x: np.ndarray, sr: int, *, drive_db: float) -> np.ndarray:
    """Soft tanh saturation: ``drive_db`` into the curve (relative to the part's own peak), level kept
    by the chain."""
    del sr
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak <= 0:
        return x
    g = 10.0 ** (drive_db / 20.0) / peak
    y = np.tanh(x * x.dtype.type(g))
    y *= x.dtype.type(1.0 / g)
    return y


def wow(x: np.ndarray, sr: int, *, rate_hz: float, depth_cents: float) -> np.ndarray:
    """Slow pitch wobble: a delay swinging sinusoidally, peak pitch deviation ``depth_cents``."""
    n = x.shape[-1]
    lo, hi, i0, frac = _wow_reader(n, sr, rate_hz, depth_cents)
    i1 = np.minimum(i0 + 1, n - 1)  # at exactly n - 1, frac is 0
    f = frac.astype(x.dtype, copy=False)
    out = np.zeros_like(x)
    for ch, y in zip(x, out, strict=True):
        a = ch[i0]
        y[lo:hi] = a + (ch[i1] - a) * f
    return out


def _wow_reader(
    n: int, sr: int, rate_hz: float, depth_cents: float
) -> tuple[int, int, np.ndarray, np.ndarray]:
    """Where the wow reads: output samples ``lo:hi`` interpolate input samples ``i0`` and ``i0 + 1`` by
    ``frac``; the rest are silent (np.interp's linear interpolation, without its binary search per sample)."""
    if n > EFFECT_CACHE_MAX_SAMPLES:
        return _wow_reader_uncached(n, sr, rate_hz, depth_cents)
    return _wow_reader_cached(n, sr, rate_hz, depth_cents)


def _wow_reader_uncached(
    n: int, sr: int, rate_hz: float, depth_cents: float
) -> tuple[int, int, np.ndarray, np.ndarray]:
    # pitch ratio 1 - d'(t); for d(t) = A sin(2 pi f t) the peak deviation is 2 pi f A
    ratio = 2.0 ** (depth_cents / 1200.0) - 1.0
    amp = ratio / (2.0 * math.pi * rate_hz)
    t = np.arange(n) / sr
    idx = (t - (WOW_DELAY_S + amp * np.sin(2.0 * math.pi * rate_hz * t))) * sr
    # the read position only moves forward (a little slower or faster than the write position), so the
    # samples it reads from outside the signal are at the two ends
    lo = int(np.searchsorted(idx, 0.0))
    hi = int(np.searchsorted(idx, n - 1, side="right"))
    base = np.floor(idx[lo:hi])
    frac = (idx[lo:hi] - base).astype(np.float32)
    return lo, hi, base.astype(np.intp), frac


@functools.lru_cache(maxsize=EFFECT_CACHE_SIZE)
def _wow_reader_cached(
    n: int, sr: int, rate_hz: float, depth_cents: float
) -> tuple[int, int, np.ndarray, np.ndarray]:
    lo, hi, i0, frac = _wow_reader_uncached(n, sr, rate_hz, depth_cents)
    i0.flags.writeable = frac.flags.writeable = False  # shared by every call
    return lo, hi, i0, frac


def reverb(x: np.ndarray, sr: int, *, decay_s: float, wet: float, damp_hz: float) -> np.ndarray:
    """A long hall: convolution with decaying stereo noise (RT60 ``decay_s``), darkened above
    ``damp_hz``, mixed ``wet`` (0..1) with the dry part. The tail stays inside the piece's length."""
    from scipy import fft

    n = x.shape[-1]
    size = _hall_fft_size(n, sr, decay_s)
    # one FFT convolution over the whole part, in float32 (the tail is far under 16-bit resolution's error)
    spectrum = fft.rfft(x.astype(np.float32), size, axis=-1)
    spectrum *= _hall_spectrum(sr, decay_s, damp_hz, size)
    tail = fft.irfft(spectrum, size, axis=-1)[:, :n]
    # equal-power balance of dry and wet; the IR is unit-energy so the tail's level matches the dry's
    tail *= np.float32(math.sin(wet * math.pi / 2))
    tail += np.float32(math.cos(wet * math.pi / 2)) * x
    return tail.astype(x.dtype, copy=False)


def _hall_length(sr: int, decay_s: float) -> int:
    return int(REVERB_PREDELAY_S * sr) + int(decay_s * sr)


def _hall_fft_size(n: int, sr: int, decay_s: float) -> int:
    from scipy import fft

    return fft.next_fast_len(n + _hall_length(sr, decay_s) - 1, real=True)


def _hall_spectrum(sr: int, decay_s: float, damp_hz: float, size: int) -> np.ndarray:
    """The hall's IR, float32, as an FFT of ``size`` points [shape=(2, size // 2 + 1), complex64]."""
    if size > EFFECT_CACHE_MAX_SAMPLES + _hall_length(sr, decay_s):
        return _hall_spectrum_uncached(sr, decay_s, damp_hz, size)
    return _hall_spectrum_cached(sr, decay_s, damp_hz, size)


def _hall_spectrum_uncached(sr: int, decay_s: float, damp_hz: float, size: int) -> np.ndarray:
    from scipy import fft

    return fft.rfft(_hall_ir(sr, decay_s, damp_hz).astype(np.float32), size, axis=-1)


@functools.lru_cache(maxsize=EFFECT_CACHE_SIZE)
def _hall_spectrum_cached(sr: int, decay_s: float, damp_hz: float, size: int) -> np.ndarray:
    spectrum = _hall_spectrum_uncached(sr, decay_s, damp_hz, size)
    spectrum.flags.writeable = False  # shared by every call (and every forked renderer process)
    return spectrum


def _hall_ir(sr: int, decay_s: float, damp_hz: float) -> np.ndarray:
    rng = np.random.default_rng(REVERB_SEED)
    m = int(decay_s * sr)
    t = np.arange(m) / sr
    env = 10.0 ** (-REVERB_DB_PER_DECAY / 20.0 * t / decay_s)
    common = rng.standard_normal(m)
    ir = np.stack([common + STEREO_SPREAD * rng.standard_normal(m) for _ in range(2)]) * env
    ir = lowpass(ir, sr, cutoff_hz=damp_hz)
    pre = int(REVERB_PREDELAY_S * sr)
    ir = np.concatenate([np.zeros((2, pre)), ir], axis=1)
    return ir / np.sqrt(np.sum(ir * ir, axis=1, keepdims=True))


def _cutoff_curve(
    n: int, sr: int, spans: list[tuple[float, float]], from_hz: float, to_hz: float
) -> np.ndarray:
    """Per block, the sweep's cutoff: ``from_hz`` rising exponentially to ``to_hz`` over each span, no
    filter (infinite) elsewhere."""
    blocks = -(-n // SWEEP_BLOCK)
    t = (np.arange(blocks) + 0.5) * SWEEP_BLOCK / sr
    cut = np.full(blocks, np.inf)
    for s, e in spans:
        inside = (t >= s) & (t < e)
        frac = (t[inside] - s) / max(e - s, 1e-9)
        cut[inside] = from_hz * (to_hz / from_hz) ** frac
    return cut


def sweep(
    x: np.ndarray, sr: int, *, spans: list[tuple[float, float]], from_hz: float, to_hz: float
) -> np.ndarray:
    """A low-pass that opens over each span (s): ``from_hz`` at its start to ``to_hz`` at its end."""
    n = x.shape[-1]
    cut = _cutoff_curve(n, sr, spans, from_hz, to_hz)
    open_hz = SWEEP_OPEN_HZ_FRACTION * sr
    return _time_varying(x, _biquads(cut, sr, "low", SWEEP_Q), cut < open_hz)


def _biquads(centre_hz: np.ndarray, sr: int, kind: str, q: float = math.sqrt(0.5)) -> np.ndarray:
    """Second-order sections [shape=(len(centre_hz), 6)]: a low-pass (Butterworth Q) or a band-pass
    (constant 0 dB peak) at each frequency (the audio-EQ cookbook's formulas, vectorised: designing each
    block's filter with scipy would cost a millisecond a block)."""
    w0 = 2.0 * np.pi * np.minimum(centre_hz, SWEEP_OPEN_HZ_FRACTION * sr) / sr
    alpha = np.sin(w0) / (2.0 * q)
    cos = np.cos(w0)
    if kind == "low":
        b = np.stack([(1 - cos) / 2, 1 - cos, (1 - cos) / 2], axis=1)
    else:
        b = np.stack([alpha, np.zeros_like(alpha), -alpha], axis=1)
    a = np.stack([1 + alpha, -2 * cos, 1 - alpha], axis=1)
    return np.concatenate([b / a[:, :1], a / a[:, :1]], axis=1)


def _time_varying(x: np.ndarray, sos: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Filter ``x`` [shape=(2, n)] block by block (``SWEEP_BLOCK``) with block ``b``'s section
    ``sos[b]`` where ``active[b]``; elsewhere the signal passes untouched and the filter rests."""
    from scipy.signal import lfilter

    n = x.shape[-1]
    out = x.copy()
    rest = np.zeros((x.shape[0], 2))
    zi = rest
    for b in np.flatnonzero(active):
        lo, hi = b * SWEEP_BLOCK, min(n, (b + 1) * SWEEP_BLOCK)
        if b == 0 or not active[b - 1]:
            zi = rest  # a fresh sweep: the filter starts at rest
        # lfilter, one section: the same direct form as sosfilt, at a quarter of its cost per call
        out[:, lo:hi], zi = lfilter(sos[b, :3], sos[b, 3:], x[:, lo:hi], axis=-1, zi=zi)
    return out


def riser(
    x: np.ndarray,
    sr: int,
    *,
    spans: list[tuple[float, float]],
    from_hz: float,
    to_hz: float,
    noise_db: float,
) -> np.ndarray:
    """White noise through a band climbing from ``from_hz`` to ``to_hz`` and swelling over each span,
    added to the part's own sound (which swells with it); its level follows the part's (``noise_db`` relative to its RMS over
    the span), so the part's gain and the renderer's balance still set it."""
    n = x.shape[-1]
    rng = np.random.default_rng(RISER_NOISE_SEED)
    out = x.copy()
    for s, e in spans:
        lo, hi = int(s * sr), min(n, int(e * sr))
        if hi - lo < SWEEP_BLOCK:
            continue
        m = hi - lo
        common = rng.standard_normal(m)
        noise = np.stack([common + STEREO_SPREAD * rng.standard_normal(m) for _ in range(2)])
        blocks = -(-m // SWEEP_BLOCK)
        centre = from_hz * (to_hz / from_hz) ** ((np.arange(blocks) + 0.5) / blocks)
        band = _time_varying(noise, _biquads(centre, sr, "band", RISER_Q), np.ones(blocks, bool))
        swell = (np.arange(m) / m) ** RISER_SWELL_POWER
        band *= swell
        ref = _rms(x[:, lo:hi])
        level = _rms(band)
        out[:, lo:hi] *= swell  # the cymbal swells with the noise
        if ref > 0 and level > 0:
            out[:, lo:hi] += band * (ref / level) * 10.0 ** (noise_db / 20.0)
    return out


_EFFECTS: dict[str, Callable[..., np.ndarray]] = {
    "lowpass": lowpass,
    "saturate": saturate,
    "wow": wow,
    "reverb": reverb,
}
