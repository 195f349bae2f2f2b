"""MIDI to finished audio: synthesize each part with a SoundFont, mix, and master.

Each part is rendered on its own, so the stems are exact: they always sum to the master. The chain per part
is SoundFont synthesis (midirenderer) -> gain -> constant-power pan -> reverb send (pedalboard). The master
is loudness-normalised to -14 LUFS and held below -1 dBTP by a look-ahead limiter. The limiter is a smooth
gain envelope computed from the mix and applied identically to the mix and every stem, so mastering keeps
the stems summing to the mix.

Long pieces render their parts in a small pool of forked processes: the synthesizer holds the GIL, so
threads do not help. The result does not depend on the pool: each part is rendered by the same function
into its own slot.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import io
import logging
import math
import mmap
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from weavewave.arrangement import Arrangement, Part
from weavewave.audio_io import integrated_lufs, sample_peak_dbfs, true_peak_dbfs, true_peak_envelope
from weavewave.errors import BadInputError, MissingDependencyError

logger = logging.getLogger(__name__)

SAMPLE_RATE = 48000  # midirenderer always renders at 48 kHz

# --- SoundFont choice ---------------------------------------------------------------------------------
SOUNDFONT_ENV = "WEAVEWAVE_SOUNDFONT"
# Better General MIDI SoundFonts a system may already have (Debian's fluid-soundfont-gm and friends).
SYSTEM_SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)
BUNDLED_SOUNDFONT = "TimGM6mb.sf2"  # ships inside the pretty_midi wheel
_RIFF_HEADER_BYTES = 12
_SF2_INFO_SCAN_BYTES = 4096  # the 'ifil' version chunk sits at the start of the INFO list

# --- synthesis ----------------------------------------------------------------------------------------
# midirenderer stops at the last MIDI event; render this far past the end so the final chord rings into
# the fade-out instead of stopping dead.
RENDER_TAIL_S = 0.5
CC_VOLUME, CC_REVERB_SEND, CC_CHORUS_SEND = 7, 91, 93
GM_DEFAULT_VOLUME = 100
# Our own reverb replaces the synthesizer's (GM default send 40), so its sends are zeroed unless a part
# sets them itself.
SYNTH_EFFECT_SENDS_OFF = ((CC_REVERB_SEND, 0), (CC_CHORUS_SEND, 0))
# A part that clips the synthesizer's 16-bit output is rendered again at this channel volume.
HEADROOM_VOLUME = 50
PCM16_SCALE = 32768.0

# --- mix ----------------------------------------------------------------------------------------------
# A medium hall: about 1.1 s RT60, darkened tail, a little pre-delay for clarity, and no bass in the send.
REVERB_ROOM_SIZE = 0.55
REVERB_DAMPING = 0.5
REVERB_WIDTH = 0.9
REVERB_PREDELAY_S = 0.015
REVERB_LOW_CUT_HZ = 200.0
# pedalboard's fully wet reverb is about twice the RMS of its input: at send 1 the wet equals the dry.
REVERB_WET_GAIN = 0.5

# --- master -------------------------------------------------------------------------------------------
TARGET_LUFS = -14.0
LOUDNESS_TOLERANCE_LU = 0.2  # re-measure and correct beyond this
TRUE_PEAK_LIMIT_DBFS = -1.0
LIMITER_CEILING_DBFS = -1.3  # the limiter aims a little under the limit
MAX_MASTER_GAIN_DB = 30.0  # a near-silent mix is not blown up to the target
MAX_MAKEUP_DB = 6.0  # most extra gain to win back loudness the limiter took
LIMITER_ITERATIONS = 6
LOUDNESS_CORRECTIONS = 2
# Limiter envelope: a held minimum of the required gain, smoothed by two moving averages (half-widths in
# seconds). The gain starts falling (sum of both) before a peak and recovers as long after it.
LIMITER_SMOOTHING_S = (0.005, 0.030)
LIMITER_BLOCK_S = 0.005
FADE_IN_S = 0.005
FADE_OUT_MAX_S = 3.0
FADE_OUT_FRACTION = 0.15

# --- parallel rendering -------------------------------------------------------------------------------
# Below this much audio (sum of part lengths, seconds) starting processes costs more than it saves.
PARALLEL_MIN_WORK_S = 20.0
MAX_WORKERS = 4


@dataclass
class Mix:
    """A mastered mix and its stems.

    Attributes
    ----------
    audio : np.ndarray [shape=(n, 2), dtype=float32]
        The mastered stereo mix.
    stems : dict[str, np.ndarray]
        Part name -> np.ndarray [shape=(n, 2), dtype=float32], mastered with the same gain envelope, so
        they sum to ``audio`` (within float32 rounding). Repeated part names get " (2)", " (3)" ...
    sample_rate : int
        Samples per second (``SAMPLE_RATE``).
    stats : dict
        ``lufs``, ``true_peak_dbfs``, ``sample_peak_dbfs`` (None for silence), ``duration_s``,
        ``soundfont`` (file name), ``gain_db`` (master gain before limiting), ``limiter_max_reduction_db``.
    """

    audio: np.ndarray
    stems: dict[str, np.ndarray]
    sample_rate: int
    stats: dict[str, Any]

    def __repr__(self) -> str:
        lufs = self.stats.get("lufs")
        loud = "silent" if lufs is None else f"{lufs:.1f} LUFS"
        return f"Mix({self.audio.shape[0] / self.sample_rate:.2f} s, {len(self.stems)} stems, {loud})"


# ======================================================================================================
# SoundFont
# ======================================================================================================
def find_soundfont(path: str | Path | None = None) -> Path:
    """The General MIDI SoundFont (SF2) to render with.

    Precedence: ``path`` if given; else the ``WEAVEWAVE_SOUNDFONT`` environment variable; else a fuller
    GM SoundFont already installed on the system (``SYSTEM_SOUNDFONTS``); else ``TimGM6mb.sf2`` from the
    pretty_midi package.

    Parameters
    ----------
    path : str or Path, optional
        An explicit ``.sf2`` file.

    Returns
    -------
    Path

    Raises
    ------
    BadInputError
        The given file (or the environment variable's) does not exist, or is not an SF2 SoundFont (SF3 and
        other files are refused: the synthesizer reads SF2 only).
    MissingDependencyError
        No SoundFont at all: pretty_midi is not installed.
    """
    if path is not None and str(path) != "":
        return _checked_sf2(Path(path).expanduser(), origin="")
    from_env = os.environ.get(SOUNDFONT_ENV, "").strip()
    if from_env:
        return _checked_sf2(Path(from_env).expanduser(), origin=f" (from {SOUNDFONT_ENV})")
    for candidate in SYSTEM_SOUNDFONTS:
        p = Path(candidate)
        if p.is_file() and _sf2_problem(p) is None:
            return p
    spec = importlib.util.find_spec("pretty_midi")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / BUNDLED_SOUNDFONT
        if bundled.is_file():
            return bundled
    raise MissingDependencyError("no General MIDI SoundFont found: pip install pretty_midi (it ships "
                                 f"{BUNDLED_SOUNDFONT}), or pass --soundfont FILE.sf2")


def _checked_sf2(p: Path, *, origin: str) -> Path:
    if not p.is_file():
        raise BadInputError(f"soundfont not found: {p}{origin}; check the path")
    problem = _sf2_problem(p)
    if problem is not None:
        raise BadInputError(f"{p}{origin} {problem}: only SF2 SoundFonts are supported, pass a .sf2 file")
    return p


def _sf2_problem(p: Path) -> str | None:
    """Why ``p`` is not an SF2 SoundFont, or None if it is one."""
    if p.suffix.lower() == ".sf3":
        return "is an SF3 (compressed) SoundFont"
    try:
        with p.open("rb") as fh:
            head = fh.read(_SF2_INFO_SCAN_BYTES)
    except OSError as err:
        return f"cannot be read ({err.strerror})"
    if len(head) < _RIFF_HEADER_BYTES or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        return "is not a SoundFont (no RIFF sfbk header)"
    at = head.find(b"ifil")
    if at >= 0 and at + 10 <= len(head):
        major = int.from_bytes(head[at + 8:at + 10], "little")
        if major >= 3:
            return "is an SF3 (compressed) SoundFont"
    return None


@functools.lru_cache(maxsize=2)
def _soundfont_bytes(path: str, mtime_ns: int, size: int) -> bytes:
    """The file's bytes, read once per process (keyed by modification time and size)."""
    del mtime_ns, size  # only part of the cache key
    return Path(path).read_bytes()


def _load_soundfont(path: Path) -> bytes:
    st = path.stat()
    return _soundfont_bytes(str(path.resolve()), st.st_mtime_ns, st.st_size)


# ======================================================================================================
# Rendering
# ======================================================================================================
@dataclass
class _Job:
    """Everything a worker needs; shared with forked workers by inheritance, never pickled."""

    arrangement: Arrangement
    parts: list[Part]
    sf2: bytes
    out: np.ndarray  # [shape=(n_parts, 2, n), dtype=float32]; each part writes its own slot
    end_s: float


_JOB: _Job | None = None
_POOL_LOCK = threading.Lock()


def render(arrangement: Arrangement, *, soundfont: str | Path | None = None,
           progress: Callable[[float, str], None] | None = None, workers: int | None = None) -> Mix:
    """Render, mix and master an arrangement.

    Parameters
    ----------
    arrangement : Arrangement
        The parts to play. The audio is exactly ``round(duration_s * SAMPLE_RATE)`` samples long.
    soundfont : str or Path, optional
        SF2 file; see :func:`find_soundfont` for the default.
    progress : callable, optional
        ``progress(fraction, message)``, called as each part is rendered and when mastering ends.
    workers : int, optional
        Processes to render parts in. Default: one per core (at most ``MAX_WORKERS``) for pieces long
        enough to gain from it, where the platform can fork; 1 renders in this process. The output is the
        same either way.

    Returns
    -------
    Mix
        ``audio`` [shape=(n, 2), dtype=float32] at -14 LUFS with true peak at most -1 dBTP, and one stem
        per part [shape=(n, 2), dtype=float32] summing to it.

    Raises
    ------
    BadInputError
        A bad duration, pan or reverb amount, or an unusable SoundFont.
    """
    _check_arrangement(arrangement)
    report = progress or (lambda fraction, message: None)
    sf_path = find_soundfont(soundfont)
    sf2 = _load_soundfont(sf_path)
    n = int(round(arrangement.duration_s * SAMPLE_RATE))
    parts = list(arrangement.parts)
    names = _unique_names([p.name for p in parts])
    steps = len(parts) + 1
    timings: dict[str, float] = {"synth": 0.0, "effects": 0.0}

    t0 = time.perf_counter()
    n_workers = _worker_count(arrangement, workers)
    buffer = _shared_buffer(len(parts), n) if n_workers > 1 else np.zeros((len(parts), 2, n), np.float32)
    order = sorted(range(len(parts)), key=lambda i: -_sounding_time(parts[i]))
    done = 0
    global _JOB
    job = _Job(arrangement, parts, sf2, buffer, arrangement.duration_s + RENDER_TAIL_S)
    # Forked workers find the job in a module global; the lock keeps concurrent renders from sharing it.
    lock = _POOL_LOCK if n_workers > 1 else _NullLock()
    with lock:
        if n_workers > 1:
            _JOB = job
        try:
            if n_workers > 1:
                ctx = multiprocessing.get_context("fork")
                with ctx.Pool(processes=n_workers) as pool:
                    results = pool.imap_unordered(_render_part, order)
                    for index, synth_s, fx_s in results:
                        done += 1
                        timings["synth"] += synth_s
                        timings["effects"] += fx_s
                        report(done / steps, f"rendered {names[index]}")
            else:
                for i in order:
                    _, synth_s, fx_s = _render_part(i, job)
                    done += 1
                    timings["synth"] += synth_s
                    timings["effects"] += fx_s
                    report(done / steps, f"rendered {names[i]}")
        except RuntimeError as err:
            if "SoundFont" in str(err):
                raise BadInputError(f"cannot render with {sf_path.name}: {err}; pass another .sf2 file") from err
            raise
        finally:
            if n_workers > 1:
                _JOB = None
    timings["parts_wall"] = time.perf_counter() - t0

    mix, stems, stats = _master(buffer, n, timings)
    stats["soundfont"] = sf_path.name
    logger.debug("render %s: %s", arrangement, {k: round(v, 3) for k, v in timings.items()})
    report(1.0, "mastered")
    return Mix(audio=mix, stems=dict(zip(names, stems, strict=True)), sample_rate=SAMPLE_RATE, stats=stats)


def _check_arrangement(arrangement: Arrangement) -> None:
    d = arrangement.duration_s
    if not (isinstance(d, (int, float, np.floating)) and math.isfinite(d) and d > 0):
        raise BadInputError(f"duration {d!r} s cannot be rendered: use a positive number of seconds")
    for part in arrangement.parts:
        if not -1.0 <= part.pan <= 1.0:
            raise BadInputError(f"part {part.name!r}: pan {part.pan} is outside -1 (left) .. 1 (right)")
        if not 0.0 <= part.reverb <= 1.0:
            raise BadInputError(f"part {part.name!r}: reverb {part.reverb} is outside 0 (dry) .. 1 (wet)")
        if not math.isfinite(part.gain_db):
            raise BadInputError(f"part {part.name!r}: gain_db {part.gain_db} is not a finite number")


class _NullLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def _sounding_time(part: Part) -> float:
    return sum(max(0.0, note.end - note.start) for note in part.notes)


def _worker_count(arrangement: Arrangement, workers: int | None) -> int:
    busy = [p for p in arrangement.parts if p.notes]
    if workers is not None:
        if workers < 1:
            raise BadInputError(f"workers={workers}: use 1 or more")
        wanted = workers
    else:
        if len(busy) * arrangement.duration_s < PARALLEL_MIN_WORK_S:
            return 1
        wanted = min(_cpu_count(), MAX_WORKERS)
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1  # spawning would re-import everything and copy the SoundFont into each worker
    return max(1, min(wanted, len(busy)))


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _shared_buffer(n_parts: int, n: int) -> np.ndarray:
    """A zeroed float32 array in anonymous shared memory that forked workers write into."""
    nbytes = max(1, n_parts * 2 * n * np.dtype(np.float32).itemsize)
    mem = mmap.mmap(-1, nbytes)
    return np.frombuffer(mem, np.float32, count=n_parts * 2 * n).reshape(n_parts, 2, n)


def _render_part(index: int, job: _Job | None = None) -> tuple[int, float, float]:
    """Synthesize part ``index`` of ``job`` (in a worker: the inherited job), apply gain, pan and reverb.

    The result goes into the part's slot of ``job.out``. Returns (index, synthesis s, effects s).
    """
    job = job if job is not None else _JOB
    assert job is not None, "internal: _render_part called outside render()"
    part = job.parts[index]
    out = job.out[index]
    if not part.notes:
        return index, 0.0, 0.0
    t0 = time.perf_counter()
    n = out.shape[1]
    dry = _synthesize(job, part, n)
    t1 = time.perf_counter()
    _gain_and_pan(dry, part.gain_db, part.pan, out)
    if part.reverb > 0:
        _add_reverb(out, part.reverb)
    return index, t1 - t0, time.perf_counter() - t1


def _midi_bytes(job: _Job, part: Part, volume_scale: float = 1.0) -> bytes:
    set_numbers = {number for _, number, _ in part.controls}
    controls = [(0.0, number, value) for number, value in SYNTH_EFFECT_SENDS_OFF if number not in set_numbers]
    if volume_scale != 1.0:
        controls.append((0.0, CC_VOLUME, round(GM_DEFAULT_VOLUME * volume_scale)))
        controls += [(t, c, round(v * volume_scale) if c == CC_VOLUME else v) for t, c, v in part.controls]
    else:
        controls += part.controls
    pm = job.arrangement.to_pretty_midi([dataclasses.replace(part, controls=controls)], end_s=job.end_s)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def _synth_pcm(sf2: bytes, midi: bytes, n: int) -> np.ndarray:
    """midirenderer's 16-bit stereo output, first ``n`` frames, as int16 [shape=(2, n)] (zero-padded)."""
    import midirenderer

    wav = midirenderer.render_wave_from(sf2, midi)
    at = wav.find(b"data", 12)
    if at < 0:
        raise RuntimeError("internal: midirenderer returned WAV data without a data chunk")
    frames = np.frombuffer(wav, dtype="<i2", offset=at + 8, count=(len(wav) - at - 8) // 2).reshape(-1, 2)
    pcm = np.zeros((2, n), np.int16)
    m = min(n, frames.shape[0])
    pcm[:, :m] = frames[:m].T
    return pcm


def _synthesize(job: _Job, part: Part, n: int) -> np.ndarray:
    """One part as float32 [shape=(2, n)], re-rendered quieter (and matched back) if the synth clipped."""
    pcm = _synth_pcm(job.sf2, _midi_bytes(job, part), n)
    clipped = (pcm >= np.iinfo(np.int16).max) | (pcm <= np.iinfo(np.int16).min)
    if not clipped.any():
        return pcm.astype(np.float32) * np.float32(1.0 / PCM16_SCALE)
    quiet = _synth_pcm(job.sf2, _midi_bytes(job, part, HEADROOM_VOLUME / GM_DEFAULT_VOLUME), n)
    a = pcm[~clipped].astype(np.float64)
    b = quiet[~clipped].astype(np.float64)
    # The channel volume scales every voice alike: the level lost is the least-squares ratio between the
    # two renders over the samples that did not clip.
    ratio = float(np.dot(a, b) / np.dot(b, b)) if np.dot(b, b) > 0 else 1.0
    logger.debug("part %r clipped the synthesizer; re-rendered %.1f dB quieter", part.name,
                 20 * math.log10(max(ratio, 1e-9)))
    return quiet.astype(np.float32) * np.float32(ratio / PCM16_SCALE)


def _gain_and_pan(x: np.ndarray, gain_db: float, pan: float, out: np.ndarray) -> None:
    """Write gain and constant-power pan of stereo ``x`` [shape=(2, n)] into ``out`` [shape=(2, n)].

    Each source channel is placed as a mono source: at pan 0 left stays left and right stays right; panning
    narrows the image towards the pan position, until at +-1 both channels sit on one side. Each channel
    uses the sine/cosine law, and the whole is scaled so the output power equals the input power for this
    signal (correlated channels would otherwise gain up to 3 dB when folded together).
    """
    gain = 10.0 ** (gain_db / 20.0)
    if pan == 0.0:
        np.multiply(x, np.float32(gain), out=out)
        return
    width = 1.0 - abs(pan)
    theta = [(q + 1.0) * math.pi / 4.0 for q in (pan - width, pan + width)]
    m = np.array([[math.cos(theta[0]), math.cos(theta[1])],
                  [math.sin(theta[0]), math.sin(theta[1])]])
    xl, xr = x[0], x[1]
    ll, rr, lr = float(np.dot(xl, xl)), float(np.dot(xr, xr)), float(np.dot(xl, xr))
    cov = np.array([[ll, lr], [lr, rr]])
    power_out = float(np.trace(m @ cov @ m.T))
    if power_out > 0:
        m *= math.sqrt((ll + rr) / power_out)
    m *= gain
    m32 = m.astype(np.float32)
    np.multiply(xl, m32[0, 0], out=out[0])
    out[0] += m32[0, 1] * xr
    np.multiply(xl, m32[1, 0], out=out[1])
    out[1] += m32[1, 1] * xr


def _add_reverb(out: np.ndarray, amount: float) -> None:
    """Add a reverb send of ``amount`` (0..1) to ``out`` [shape=(2, n)] in place."""
    from pedalboard import HighpassFilter, Pedalboard, Reverb

    board = Pedalboard([
        HighpassFilter(cutoff_frequency_hz=REVERB_LOW_CUT_HZ),
        Reverb(room_size=REVERB_ROOM_SIZE, damping=REVERB_DAMPING, wet_level=1.0, dry_level=0.0,
               width=REVERB_WIDTH),
    ])
    n = out.shape[1]
    delay = int(round(REVERB_PREDELAY_S * SAMPLE_RATE))
    if n <= delay:
        return
    wet = board(np.ascontiguousarray(out[:, :n - delay]), SAMPLE_RATE)
    wet *= np.float32(amount * REVERB_WET_GAIN)
    out[:, delay:] += wet


# ======================================================================================================
# Mastering
# ======================================================================================================
def _master(stems: np.ndarray, n: int, timings: dict[str, float]
            ) -> tuple[np.ndarray, list[np.ndarray], dict[str, Any]]:
    """Fade, normalise and limit. ``stems`` [shape=(n_parts, 2, n)] is scaled in place.

    Returns the master [shape=(n, 2)], the stems as [shape=(n, 2)] views, and the stats.
    """
    clock = _Clock(timings)
    mix = stems.sum(axis=0, dtype=np.float32) if stems.shape[0] else np.zeros((2, n), np.float32)
    fade = _fade_envelope(n)
    faded = mix * fade
    clock.lap("mix")
    loudness = integrated_lufs(faded.T, SAMPLE_RATE)
    clock.lap("loudness")

    ceiling = 10.0 ** (LIMITER_CEILING_DBFS / 20.0)
    max_gain = 10.0 ** (MAX_MASTER_GAIN_DB / 20.0)
    target = 1.0 if loudness is None else min(10.0 ** ((TARGET_LUFS - loudness) / 20.0), max_gain)
    gain_cap = min(target * 10.0 ** (MAX_MAKEUP_DB / 20.0), max_gain)
    # exact oversampled peaks wherever some allowed gain could push them over the ceiling
    peaks = true_peak_envelope(faded.T, threshold=ceiling / gain_cap)
    power = faded[0] * faded[0]
    power += faded[1] * faded[1]
    total_power = float(power.sum(dtype=np.float64))
    del faded
    gain, limiter = _gain_for_loudness(target, gain_cap, peaks, ceiling, power, total_power)
    envelope = _envelope(gain, limiter, fade)
    audio = mix * envelope
    clock.lap("limiter")

    lufs = integrated_lufs(audio.T, SAMPLE_RATE) if loudness is not None else None
    clock.lap("loudness")
    for _ in range(LOUDNESS_CORRECTIONS):
        if lufs is None or abs(lufs - TARGET_LUFS) <= LOUDNESS_TOLERANCE_LU or gain >= gain_cap:
            break
        # the power estimate of the limiter's loudness loss was off: correct from the measurement
        target = min(target * 10.0 ** ((TARGET_LUFS - lufs) / 20.0), gain_cap)
        gain, limiter = _gain_for_loudness(target, gain_cap, peaks, ceiling, power, total_power)
        envelope = _envelope(gain, limiter, fade)
        audio = mix * envelope
        clock.lap("limiter")
        lufs = integrated_lufs(audio.T, SAMPLE_RATE)
        clock.lap("loudness")
    true_peak = true_peak_dbfs(audio.T, SAMPLE_RATE)
    if true_peak > LIMITER_CEILING_DBFS:
        # the smooth gain envelope moved an inter-sample peak: trim the whole master to the ceiling
        trim = np.float32(10.0 ** ((LIMITER_CEILING_DBFS - true_peak) / 20.0))
        envelope *= trim
        audio *= trim
        true_peak = true_peak_dbfs(audio.T, SAMPLE_RATE)
        lufs = None if lufs is None else integrated_lufs(audio.T, SAMPLE_RATE)
    clock.lap("true_peak")

    stems *= envelope
    master = np.ascontiguousarray(audio.T)
    clock.lap("apply")
    sample_peak = sample_peak_dbfs(master)
    stats: dict[str, Any] = {
        "lufs": lufs,
        "true_peak_dbfs": true_peak if math.isfinite(true_peak) else None,
        "sample_peak_dbfs": sample_peak if math.isfinite(sample_peak) else None,
        "duration_s": n / SAMPLE_RATE,
        "gain_db": 20.0 * math.log10(gain),
        "limiter_max_reduction_db": 0.0 if limiter is None else -20.0 * math.log10(float(limiter.min())),
    }
    return master, [stems[i].T for i in range(stems.shape[0])], stats


class _Clock:
    """Adds the seconds since the last lap to ``timings[name]``."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + now - self.last
        self.last = now


def _fade_envelope(n: int) -> np.ndarray:
    """Raised-cosine fade-in (``FADE_IN_S``) and fade-out ending at exactly zero on the last sample."""
    env = np.ones(n, np.float32)
    fade_in = min(n, int(round(FADE_IN_S * SAMPLE_RATE)))
    fade_out = min(n, int(round(min(FADE_OUT_MAX_S, FADE_OUT_FRACTION * n / SAMPLE_RATE) * SAMPLE_RATE)))
    if fade_in > 0:
        env[:fade_in] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(fade_in) / fade_in)
    if fade_out > 0:
        env[n - fade_out:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fade_out + 1) / fade_out)
    return env


def _envelope(gain: float, limiter: np.ndarray | None, fade: np.ndarray) -> np.ndarray:
    env = fade * np.float32(gain)
    if limiter is not None:
        env *= limiter
    return env


def _gain_for_loudness(target: float, gain_cap: float, peaks: np.ndarray, ceiling: float,
                       power: np.ndarray, total_power: float) -> tuple[float, np.ndarray | None]:
    """Master gain and limiter envelope whose product keeps the loudness of gain ``target``.

    The limiter takes loudness from the peaks; the gain is raised by the loss (estimated from the signal
    power weighted by the squared limiter gain) and the limiter recomputed, a few times, never beyond
    ``gain_cap``.
    """
    gain = target
    limiter = _limiter_envelope(peaks, gain, ceiling)
    for _ in range(LIMITER_ITERATIONS):
        if limiter is None or total_power <= 0:
            break
        kept = float(np.dot(limiter * limiter, power)) / total_power
        wanted = min(target / math.sqrt(max(kept, 1e-12)), gain_cap)
        if abs(20.0 * math.log10(wanted / gain)) < 0.01:
            break
        gain = wanted
        limiter = _limiter_envelope(peaks, gain, ceiling)
    return gain, limiter


def _limiter_envelope(peaks: np.ndarray, gain: float, ceiling: float) -> np.ndarray | None:
    """Smooth look-ahead gain [shape=(n,), float32] keeping ``gain * peaks`` under ``ceiling``; None if 1.

    The required gain is held at its minimum over a window, at block resolution, then smoothed by two moving
    averages whose combined reach is within the hold: every averaged value is then at most the required gain
    at the centre, so the envelope never lets a peak through, and it has no corners.
    """
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    over = peaks * np.float32(gain) > ceiling
    if not over.any():
        return None
    n = peaks.shape[0]
    required = np.ones(n, np.float32)
    required[over] = ceiling / (gain * peaks[over])
    block = max(1, int(round(LIMITER_BLOCK_S * SAMPLE_RATE)))
    halfwidths = [int(round(s * SAMPLE_RATE)) for s in LIMITER_SMOOTHING_S]
    reach = -(-sum(halfwidths) // block)  # blocks the smoothing can reach
    n_blocks = -(-n // block)
    padded = np.ones(n_blocks * block, np.float32)
    padded[:n] = required
    held = minimum_filter1d(padded.reshape(n_blocks, block).min(axis=1), size=2 * reach + 1, mode="nearest")
    env = np.repeat(held, block)[:n]
    for h in halfwidths:
        env = uniform_filter1d(env, size=2 * h + 1, mode="nearest")
    np.minimum(env, np.float32(1.0), out=env)
    return env
