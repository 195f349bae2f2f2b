"""MIDI to finished audio: synthesize with a SoundFont, mix, and master (:func:`weavewave.dsp.master.master`).

The mix is played by the synthesizer in one pass (two side by side for long pieces): every part on its
own MIDI channel, with its level, pan and reverb send set by the General MIDI controllers CC7, CC10 and
CC91, so the synth's own mixer and reverb do the mixing. The master is loudness-normalised to -14 LUFS
and held below -1 dBTP by a look-ahead limiter, a smooth gain envelope computed from the mix.

Stems, when asked for, are the parts rendered one at a time with the same controllers and multiplied by
the mix's gain envelope, so they sum to the mix within the synthesizer's 16-bit output rounding.
Synthesizer passes run in a small pool of forked processes when there is enough work: the synthesizer
holds the GIL, so threads do not help. The result does not depend on the pool.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
import mmap
import multiprocessing
import multiprocessing.process
import os
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from weavewave.dsp.loudness import integrated_lufs
from weavewave.dsp.master import SAMPLE_RATE, Clock, master
from weavewave.errors import BadInputError
from weavewave.generators.symbolic.soundfont import find_soundfont, load_soundfont
from weavewave.music.arrangement import Arrangement, Part

logger = logging.getLogger(__name__)


# --- synthesis and mix ------------------------------------------------------------------------------
# midirenderer stops at the last MIDI event; render this far past the end so the final chord rings into
# the fade-out instead of stopping dead.
RENDER_TAIL_S = 0.5
# A loop is rendered this far past its end, and that tail (releases, reverb) is added onto its start, so
# the end flows into the start when it repeats.
LOOP_TAIL_S = 3.0
CC_VOLUME, CC_PAN, CC_REVERB_SEND, CC_CHORUS_SEND = 7, 10, 91, 93
# The loudest part plays at full channel volume; the others sit below it by their gain_db. The
# synthesizer's channel volume is 40 log10(cc / 127) dB (the SF2 concave curve), measured.
TOP_VOLUME = 127
# Below this channel volume the synthesizer drops voices altogether: quieter parts are held here.
MIN_VOLUME = 16
# A pass of parts with effects ends this long after its last note or controller when that is sooner than
# the piece's end (a riser plays only before each drop): the synthesizer's cost is per sample rendered.
# Measured with TimGM6mb: releases and the synthesizer's reverb are silent in 16 bits 1.9 s after the last
# note-off at most. The pass is played whole after all when its last TRIM_QUIET_S are not silent (a font
# with longer releases), so no tail is cut.
TRIM_TAIL_S = 3.0
TRIM_QUIET_S = 0.5
TRIM_MIN_SAVING_S = 1.0  # shorter savings are not worth a second MIDI file
# When the synthesizer's 16-bit output clips, everything is rendered again this much quieter.
HEADROOM_DB = 12.0
MAX_HEADROOM_RETRIES = 2
# Part.reverb -> reverb send: the synthesizer's reverb (about 1.2 s RT60) is quieter than a send of the
# same number into a full hall, so reverb 0.5 and above send fully and the curve is a square root.
REVERB_FULL_SEND = 0.5
CHORUS_SEND = 0
PCM16_SCALE = 32768.0
GM_CHANNELS = 16
GM_DRUM_CHANNEL = 9

# --- balance ------------------------------------------------------------------------------------------
# SoundFont programs differ in loudness by 20 dB and more (a sparse ride cymbal against a tenor sax), so
# a part's gain_db only means "this far under the lead" once the synth's own level is taken out. Each
# part's typical stretch in each half of the piece is rendered alone, dry and at full volume, and their
# loudness measured together; all the stretches play one after another in one short synthesizer pass.
BALANCE_PROBE_S = 1.6  # one stretch measured (four 400 ms loudness blocks overlapping by 75 %)
BALANCE_PROBES = 2  # stretches per part, one from each half of the piece
BALANCE_GAP_S = 0.4  # silence after each stretch, so a release does not reach the next part's slot
BALANCE_BIN_S = 0.05
BALANCE_PROBE_QUANTILE = 0.5  # which stretch, ranked by how much the part plays in it
BALANCE_MAX_DB = 24.0  # the most a part is raised or lowered to even out its program's level

# --- parallel rendering -------------------------------------------------------------------------------
# Below this much audio (sum of part lengths, seconds) starting processes costs more than it saves.
PARALLEL_MIN_WORK_S = 20.0
MAX_WORKERS = 4
# Long pieces play the mix in this many synthesizer passes (parts split between them), run side by side.
MIX_PASSES = 2
# The watchdog on the renderer's processes: how often it looks at them (and reports progress, so a cancel
# request is seen even while a pass runs), and how long all passes may take at most: a base plus this much
# wall time per second of audio per pass. midirenderer plays about 100x faster than real time, so only a
# hung synthesizer reaches the limit.
WATCH_POLL_S = 0.25
RENDER_TIMEOUT_BASE_S = 120.0
RENDER_TIMEOUT_PER_AUDIO_S = 0.5
# How long a stopped pool's processes get to exit after SIGKILL (they are reaped, not left as zombies).
POOL_KILL_WAIT_S = 2.0
# A failing renderer process sends its reason to the parent in at most this many characters.
ERROR_TEXT_MAX = 500


class RendererDied(RuntimeError):
    """A synthesizer process died (killed, say by the out-of-memory killer) or overran its time limit.

    Not a :class:`~weavewave.errors.BadInputError`: the input was fine, the machine was not, so the CLI
    exits 1 with the one-line reason and the server fails the job with it.
    """


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
# Rendering
# ======================================================================================================
@dataclass
class _Job:
    """Everything a renderer process needs; it inherits this through fork, nothing is pickled."""

    midis: list[bytes]  # one Standard MIDI File per slot
    sf2: bytes
    out: np.ndarray  # [shape=(n_slots, 2, n), dtype=float32]; each slot's render writes there
    clipped: np.ndarray  # [shape=(n_slots,), dtype=uint8]; set where the synthesizer's output clipped
    # slot -> effect applied to the slot's audio right after it is synthesized, in the same process (so
    # effects run side by side, like the passes); a loop's slot is folded to ``n_keep`` samples first
    post: dict[int, Callable[[np.ndarray, int], np.ndarray]] = dataclasses.field(default_factory=dict)
    n_keep: int = 0
    # slot -> (the whole pass's MIDI, the sample from which the trimmed pass must be silent): a slot whose
    # MIDI ends early (``TRIM_TAIL_S``) is played again whole if it is not silent from there
    whole: dict[int, tuple[bytes, int]] = dataclasses.field(default_factory=dict)


def render(
    arrangement: Arrangement,
    *,
    soundfont: str | Path | None = None,
    progress: Callable[[float, str], None] | None = None,
    workers: int | None = None,
    stems: bool = False,
    loop: bool = False,
    balance: bool = False,
    effects: dict[int, Callable[[np.ndarray, int], np.ndarray]] | None = None,
    effect_groups: Sequence[Sequence[int]] = (),
) -> Mix:
    """Render, mix and master an arrangement.

    The mix is played by the synthesizer in one pass, every part on its own MIDI channel with its level,
    pan and reverb send set by channel controllers (CC7, CC10, CC91). Stems, when asked for, are the
    same parts rendered one at a time with the same controllers and mastered with the mix's gain envelope.

    Parameters
    ----------
    arrangement : Arrangement
        The parts to play. The audio is exactly ``round(duration_s * SAMPLE_RATE)`` samples long.
    soundfont : str or Path, optional
        SF2 file; see :func:`find_soundfont` for the default.
    progress : callable, optional
        ``progress(fraction, message)``, called as each synthesizer pass ends and when mastering ends.
    workers : int, optional
        Processes to run synthesizer passes in (only stems make more than one pass). Default: one per
        core (at most ``MAX_WORKERS``) when there is enough work, where the platform can fork; 1 renders
        in this process. The output is the same either way.
    stems : bool
        Also render one stem per part. The mix does not depend on this.
    loop : bool
        Make a seamless loop: render ``LOOP_TAIL_S`` past the end, fold that tail onto the start, and
        master without fades, so the last sample flows into the first.
    balance : bool
        Take each SoundFont program's own loudness out of the mix: two short stretches of every part are
        measured alone (one short extra synthesizer pass) and its channel level corrected, so ``gain_db``
        is the part's loudness relative to the others (within ``BALANCE_MAX_DB``), whatever the font.
    effects : dict, optional
        Part index -> ``effect(audio [shape=(2, n)], sample_rate) -> audio [shape=(2, n)]``: such a part
        plays in a pass of its own, the effect processes it before the mix is summed and mastered, and
        its stem is that processed pass (so stems still sum to the mix). Effects run in the renderer
        processes, each right after its pass.
    effect_groups : sequence of sequences of int, optional
        Parts (indices into ``effects``) whose effects are one and the same linear chain
        (:attr:`~weavewave.generators.symbolic.effects.EffectsPlan.groups`): without stems, each group
        plays in one pass and its first part's effect processes the sum once (a pass costs the synthesizer
        every sample whatever it holds). With stems, every part with effects plays alone as above, so each
        stem is its own part's sound.

    Returns
    -------
    Mix
        ``audio`` [shape=(n, 2), dtype=float32] at -14 LUFS with true peak at most -1 dBTP; ``stems`` one
        [shape=(n, 2), dtype=float32] per part if asked for, else empty.

    Raises
    ------
    BadInputError
        A bad duration, pan or reverb amount, or an unusable SoundFont.
    """
    _check_arrangement(arrangement)
    report = progress or (lambda fraction, message: None)
    sf_path = find_soundfont(soundfont)
    sf2 = load_soundfont(sf_path)
    n = int(round(arrangement.duration_s * SAMPLE_RATE))
    tail_s = LOOP_TAIL_S if loop else RENDER_TAIL_S
    n_play = n + int(round(LOOP_TAIL_S * SAMPLE_RATE)) if loop else n
    parts = list(arrangement.parts)
    names = _unique_names([p.name for p in parts])
    timings: dict[str, float] = {}
    clock = Clock(timings)

    busy = [i for i, p in enumerate(parts) if p.notes]
    fx = effects or {}
    wet = [i for i in busy if i in fx]  # processed in their own passes, before the sum
    dry = [i for i in busy if i not in fx]
    wet_passes = [[i] for i in wet] if stems else _wet_passes(wet, effect_groups)
    # the wet parts' passes already run side by side with the dry ones: split the dry parts only as far
    # as needed to make MIX_PASSES passes in all (each pass costs the synthesizer every sample)
    groups = _channel_groups([parts[i] for i in dry], arrangement.duration_s, MIX_PASSES - len(wet_passes))
    group_parts = [[dry[j] for j in g] for g in groups] + wet_passes
    stem_parts = dry if stems else []
    n_dry_groups = len(groups)
    # wet slots follow the dry groups; a shared pass gets its first part's effect (the group's chain)
    post = {n_dry_groups + k: fx[g[0]] for k, g in enumerate(wet_passes)}
    headroom_db = 0.0
    levels = _probe_levels(arrangement, parts, _probe_groups(parts, busy), sf2) if balance else None
    clock.lap("balance")
    end_s = arrangement.duration_s + tail_s
    # wet passes that stop playing well before the end are rendered only that far (see TRIM_TAIL_S)
    trim = {
        k: last + TRIM_TAIL_S
        for k in range(n_dry_groups, len(group_parts))
        if (last := _last_event_s([parts[i] for i in group_parts[k]])) + TRIM_TAIL_S + TRIM_MIN_SAVING_S
        <= end_s
    }
    for attempt in range(MAX_HEADROOM_RETRIES + 1):
        volumes = _channel_volumes(parts, headroom_db, levels)
        midis = [
            _midi_bytes(arrangement, [parts[i] for i in g], [volumes[i] for i in g], tail_s)
            for g in group_parts
        ]
        midis += [_midi_bytes(arrangement, [parts[i]], [volumes[i]], tail_s) for i in stem_parts]
        whole = {}
        for k, stop_s in trim.items():
            whole[k] = (midis[k], int((stop_s - TRIM_QUIET_S) * SAMPLE_RATE))
            g = group_parts[k]
            midis[k] = _midi_bytes(
                arrangement, [parts[i] for i in g], [volumes[i] for i in g], stop_s - arrangement.duration_s
            )
        clock.lap("midi")
        try:
            out, clipped = _synthesize_all(
                midis, sf2, n_play, arrangement.duration_s, workers, report, len(group_parts), post, n, whole
            )
        except RuntimeError as err:
            if "SoundFont" in str(err):
                raise BadInputError(
                    f"cannot render with {sf_path.name}: {err}; pass another .sf2 file"
                ) from err
            raise
        clock.lap("synth")
        if not clipped.any() or attempt == MAX_HEADROOM_RETRIES:
            break
        headroom_db += HEADROOM_DB
        logger.debug("the synthesizer clipped; rendering again %.0f dB quieter", headroom_db)

    if loop:
        out = _fold_tail(out, n)  # wet slots were folded (and their tails zeroed) where they were processed
    n_groups = len(group_parts)
    mix = out[:n_groups].sum(axis=0, dtype=np.float32) if n_groups else np.zeros((2, n), np.float32)
    clock.lap("mix")
    mastered, envelope, stats = master(mix, n, timings, fades=not loop)
    clock.last = time.perf_counter()
    stem_audio: dict[str, np.ndarray] = {}
    if stems:
        slot = dict(zip(stem_parts, range(n_groups, n_groups + len(stem_parts)), strict=True))
        slot.update(zip(wet, range(n_groups - len(wet), n_groups), strict=True))
        for i, name in enumerate(names):
            if i in slot:
                stem = out[slot[i]]
                stem *= envelope
                stem_audio[name] = stem.T
            else:
                stem_audio[name] = np.zeros((n, 2), np.float32)
        clock.lap("stems")
    stats["soundfont"] = sf_path.name
    logger.debug("render %s: %s", arrangement, {k: round(v, 3) for k, v in timings.items()})
    report(1.0, "mastered")
    return Mix(audio=mastered, stems=stem_audio, sample_rate=SAMPLE_RATE, stats=stats)


def _last_event_s(parts: list[Part]) -> float:
    """When the last note of ``parts`` ends or their last controller (a pedal's release) is sent."""
    return max(
        [n.end for p in parts for n in p.notes] + [t for p in parts for t, _, _ in p.controls], default=0.0
    )


def _wet_passes(wet: list[int], effect_groups: Sequence[Sequence[int]]) -> list[list[int]]:
    """The passes of the parts with effects: each group's playing parts together, the others alone, in
    the order of each pass's first part."""
    playing = set(wet)
    shared = [sorted(set(g) & playing) for g in effect_groups]
    shared = [g for g in shared if len(g) > 1]
    grouped = {i for g in shared for i in g}
    if len(grouped) != sum(len(g) for g in shared):
        raise ValueError(f"internal: effect groups {effect_groups!r} overlap")
    return sorted(shared + [[i] for i in wet if i not in grouped])


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


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def _channel_groups(parts: list[Part], duration_s: float, max_split: int = MIX_PASSES) -> list[list[int]]:
    """Split parts into synthesizer passes in which every part gets a MIDI channel of its own.

    pretty_midi gives instrument ``k`` of a file channel ``k mod 15`` of the fifteen melodic channels (and
    every drum part channel 10), so a pass holds at most fifteen melodic parts, listed first, and one drum
    part, listed last. Long pieces are split into ``MIX_PASSES`` passes of about equal sounding time, so
    the passes can run side by side (at most ``max_split`` passes are made for this reason alone); the
    split depends only on the arrangement. Returns indices into ``parts``.
    """
    per_pass = GM_CHANNELS - 1
    n_melodic = sum(1 for p in parts if not p.is_drum)
    n_drums = len(parts) - n_melodic
    n_passes = max(-(-n_melodic // per_pass), n_drums)
    if duration_s * len(parts) >= PARALLEL_MIN_WORK_S:
        n_passes = max(n_passes, min(max_split, len(parts)))
    groups: list[list[int]] = [[] for _ in range(n_passes)]
    load = [0.0] * n_passes
    for i in sorted(range(len(parts)), key=lambda i: (-_sounding_time(parts[i]), i)):
        drum = parts[i].is_drum
        fits = [
            k
            for k in range(n_passes)
            if (
                not any(parts[j].is_drum for j in groups[k])
                if drum
                else sum(1 for j in groups[k] if not parts[j].is_drum) < per_pass
            )
        ]
        k = min(fits, key=lambda k: (load[k], k))
        groups[k].append(i)
        load[k] += _sounding_time(parts[i])
    return [sorted(g, key=lambda i: (parts[i].is_drum, i)) for g in groups if g]


def _sounding_time(part: Part) -> float:
    return sum(max(0.0, note.end - note.start) for note in part.notes)


def _channel_volumes(
    parts: list[Part], headroom_db: float, levels: list[float | None] | None = None
) -> list[int]:
    """CC7 per part: the loudest at ``TOP_VOLUME`` less ``headroom_db``, the rest below by their gain.

    ``levels`` (LUFS per part at full volume, None where unmeasured) turn each gain into a loudness: a part
    whose program sounds louder than the others is turned down by the difference, and a quieter one up.
    """
    if not parts:
        return []
    gains = [p.gain_db for p in parts]
    measured = [v for v in (levels or []) if v is not None]
    if measured:
        ref = float(np.median(measured))
        gains = [
            g - max(-BALANCE_MAX_DB, min(BALANCE_MAX_DB, lv - ref)) if lv is not None else g
            for g, lv in zip(gains, levels or [], strict=True)
        ]
    top = max(gains)
    volumes = []
    for g in gains:
        db = g - top - headroom_db
        volumes.append(int(min(127, max(MIN_VOLUME, round(TOP_VOLUME * 10.0 ** (db / 40.0))))))
    return volumes


def _probe_starts(part: Part, duration_s: float) -> list[float]:
    """Starts of the ``BALANCE_PROBE_S`` stretches measured: in each of ``BALANCE_PROBES`` equal spans of
    the piece, the stretch of median activity among those where the part plays, so neither one dense run
    nor a lone note stands for the whole part."""
    n_bins = max(1, int(math.ceil(duration_s / BALANCE_BIN_S)))
    cover = np.zeros(n_bins + 1)
    for note in part.notes:
        a = min(n_bins, int(note.start / BALANCE_BIN_S))
        b = min(n_bins, max(a + 1, int(note.end / BALANCE_BIN_S)))
        cover[a] += 1.0
        cover[b] -= 1.0
    cover = np.cumsum(cover)[:n_bins]
    width = min(n_bins, int(round(BALANCE_PROBE_S / BALANCE_BIN_S)))
    sums = np.convolve(cover, np.ones(width), mode="valid")
    starts = []
    for chunk in np.array_split(np.arange(len(sums)), BALANCE_PROBES):
        playing = chunk[sums[chunk] > 0] if len(chunk) else chunk
        if len(playing):
            # A typical stretch, not the busiest: a sparse part is heard as sparse over the piece.
            order = playing[np.argsort(sums[playing], kind="stable")]
            starts.append(float(order[int(len(order) * BALANCE_PROBE_QUANTILE)]) * BALANCE_BIN_S)
    return starts or [0.0]


def _window_controls(part: Part, t0: float, t1: float, at: float) -> list[tuple[float, int, int]]:
    """The part's controllers (a sustain pedal) over [t0, t1), moved to start at ``at``: each controller's
    state at ``t0`` is set first, so a pedal held into the window stays down."""
    state: dict[int, int] = {}
    inside = []
    for t, cc, v in sorted(part.controls):
        if t <= t0:
            state[cc] = v
        elif t < t1:
            inside.append((round(t - t0 + at, 6), cc, v))
    return (
        [(at, cc, v) for cc, v in state.items()]
        + inside
        + [(round(at + t1 - t0, 6), cc, 0) for cc in {c for _, c, _ in part.controls}]
    )


def _probe_groups(parts: list[Part], busy: list[int]) -> list[list[int]]:
    """As few probe passes as the MIDI channels allow: fifteen melodic parts and one kit a pass."""
    melodic = [i for i in busy if not parts[i].is_drum]
    drums = [i for i in busy if parts[i].is_drum]
    per_pass = GM_CHANNELS - 1
    groups = [melodic[k : k + per_pass] for k in range(0, len(melodic), per_pass)] or [[]]
    for k, i in enumerate(drums):
        if k >= len(groups):
            groups.append([])
        groups[k].append(i)
    return [g for g in groups if g]


def _probe_levels(
    arrangement: Arrangement, parts: list[Part], group_parts: list[list[int]], sf2: bytes
) -> list[float | None]:
    """Loudness (LUFS) of each part's typical stretches, played alone, dry, at full channel volume."""
    levels: list[float | None] = [None] * len(parts)
    slot_s = BALANCE_PROBE_S + BALANCE_GAP_S
    for group in group_parts:
        probes: list[Part] = []
        slots: list[int] = []
        for i in group:
            part, notes, controls = parts[i], [], []
            for t0 in _probe_starts(part, arrangement.duration_s):
                t1, at = t0 + BALANCE_PROBE_S, len(slots) * slot_s
                slots.append(i)
                notes += [
                    dataclasses.replace(
                        n, start=round(max(n.start, t0) - t0 + at, 6), end=round(min(n.end, t1) - t0 + at, 6)
                    )
                    for n in part.notes
                    if min(n.end, t1) > max(n.start, t0)
                ]
                controls += _window_controls(part, t0, t1, at)
            probes.append(dataclasses.replace(part, notes=notes, controls=controls, reverb=0.0, pan=0.0))
        length_s = len(slots) * slot_s
        probe = Arrangement(
            parts=probes,
            tempo_bpm=arrangement.tempo_bpm,
            meter=arrangement.meter,
            duration_s=length_s,
            key_tonic=arrangement.key_tonic,
            key_mode=arrangement.key_mode,
        )
        n = int(round(length_s * SAMPLE_RATE))
        pcm = _synth_pcm(sf2, _midi_bytes(probe, probes, [TOP_VOLUME] * len(probes), 0.0), n)
        audio = pcm.T.astype(np.float32) / PCM16_SCALE
        width = int(round(BALANCE_PROBE_S * SAMPLE_RATE))
        for i in group:
            # The part's stretches side by side, measured as one signal.
            mine = [
                audio[int(round(k * slot_s * SAMPLE_RATE)) :][:width] for k, j in enumerate(slots) if j == i
            ]
            levels[i] = integrated_lufs(np.concatenate(mine), SAMPLE_RATE)
    return levels


def _pan_value(pan: float) -> int:
    """CC10 for pan -1 .. 1: 0 hard left, 64 centre, 127 hard right."""
    return int(min(127, max(0, round(63.5 * (pan + 1.0)))))


def _reverb_send(amount: float) -> int:
    """CC91 for a reverb amount 0 .. 1 (see ``REVERB_FULL_SEND``)."""
    return int(round(127 * math.sqrt(min(1.0, amount / REVERB_FULL_SEND))))


def _fold_tail(out: np.ndarray, n: int) -> np.ndarray:
    """Add everything after sample ``n`` onto the start (wrapping as often as needed); keep ``n`` samples."""
    folded = out[:, :, :n]
    at = n
    while at < out.shape[2]:
        m = min(n, out.shape[2] - at)
        folded[:, :, :m] += out[:, :, at : at + m]
        at += m
    return folded


def _midi_bytes(
    arrangement: Arrangement, parts: list[Part], volumes: list[int], tail_s: float = RENDER_TAIL_S
) -> bytes:
    """One synthesizer pass: ``parts`` with their mix controllers at time 0 (after any of the part's own)."""
    played = []
    for part, volume in zip(parts, volumes, strict=True):
        mix_controls = [
            (0.0, CC_VOLUME, volume),
            (0.0, CC_PAN, _pan_value(part.pan)),
            (0.0, CC_REVERB_SEND, _reverb_send(part.reverb)),
            (0.0, CC_CHORUS_SEND, CHORUS_SEND),
        ]
        mixed = {c for _, c, _ in mix_controls}
        own = [(t, c, v) for t, c, v in part.controls if c not in mixed]
        played.append(dataclasses.replace(part, controls=mix_controls + own))
    pm = arrangement.to_pretty_midi(played, end_s=arrangement.duration_s + tail_s, tempo_map=False)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def _synthesize_all(
    midis: list[bytes],
    sf2: bytes,
    n: int,
    duration_s: float,
    workers: int | None,
    report: Callable[[float, str], None],
    n_mix: int,
    post: dict[int, Callable[[np.ndarray, int], np.ndarray]] | None = None,
    n_keep: int | None = None,
    whole: dict[int, tuple[bytes, int]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthesize every MIDI file into a slot of a float32 [shape=(len(midis), 2, n)] array.

    ``post`` (slot -> effect) processes a slot where it was synthesized: folded to its first ``n_keep``
    samples if that is less than ``n`` (a loop's tail, the rest of the slot left zero), then the effect.
    ``whole`` (slot -> (MIDI, sample)): the slot's MIDI stops early; if its output is not silent from
    that sample on, the given MIDI is synthesized instead.

    Returns the array and, per slot, whether the synthesizer's 16-bit output clipped.

    Raises
    ------
    RendererDied
        A renderer process was killed or the passes overran their time limit (see :func:`_run_pool`).
    """
    n_workers = _worker_count(len(midis), duration_s, workers)
    if n_workers > 1:
        out = _shared_array((len(midis), 2, n), np.float32)
        clipped = _shared_array((len(midis),), np.uint8)
    else:
        out = np.zeros((len(midis), 2, n), np.float32)
        clipped = np.zeros(len(midis), np.uint8)
    job = _Job(midis, sf2, out, clipped, post or {}, n if n_keep is None else n_keep, whole or {})
    steps = len(midis) + 1

    def label(i: int) -> str:
        return (
            f"rendered mix pass {i + 1} of {n_mix}"
            if i < n_mix
            else f"rendered stem {i - n_mix + 1} of {len(midis) - n_mix}"
        )

    if n_workers > 1:
        limit_s = RENDER_TIMEOUT_BASE_S + RENDER_TIMEOUT_PER_AUDIO_S * duration_s * len(midis)
        _run_pool(job, n_workers, lambda done, i: report(done / steps, label(i)), limit_s)
    else:
        for i in range(len(midis)):
            _synthesize_slot(i, job)
            report((i + 1) / steps, label(i))
    return out, clipped


def _run_pool(job: _Job, n_workers: int, on_done: Callable[[int, int], None], limit_s: float) -> None:
    """Synthesize ``job``'s slots in a pool of ``n_workers`` forked processes, under a watchdog.

    A :class:`~concurrent.futures.ProcessPoolExecutor` on the fork context: its processes inherit the job
    (the SoundFont's bytes and the shared output arrays) from this one, so nothing large is pickled; a
    task is a slot number. This process watches the futures: it reports each finished slot
    (``on_done(count, slot)``), and calls ``on_done`` again with the last finished slot while it waits,
    so a cancel request raised from the progress callback is seen mid-pass. A process that dies (a
    signal, as the out-of-memory killer sends) or fails, or passes that overrun ``limit_s`` seconds, end
    the others and raise; so does any exception from ``on_done``. No process outlives this call, nor the
    process that called it.
    """
    context = _ForkContext()
    pool = ProcessPoolExecutor(
        n_workers,
        mp_context=context,  # type: ignore[call-overload]  # it stands for a fork context, as a proxy
        initializer=_pool_init,
        initargs=(job, os.getpid()),
    )
    finished_cleanly = False
    try:
        slot_of = {pool.submit(_pool_slot, i): i for i in range(len(job.midis))}
        pending, reported = set(slot_of), []
        deadline = time.monotonic() + limit_s
        while pending:
            done, pending = wait(pending, timeout=WATCH_POLL_S, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=slot_of.__getitem__):
                try:
                    future.result()
                except BrokenProcessPool:
                    pool.shutdown(wait=True)  # every process is reaped: their exit codes are final
                    raise _pool_failure(context.processes) from None
                reported.append(slot_of[future])
                on_done(len(reported), slot_of[future])
            if not pending:
                break
            if time.monotonic() > deadline:
                raise RendererDied(
                    f"rendering took longer than its limit of {limit_s:.0f} s (a synthesizer "
                    "process hung); try again, or render fewer stems"
                )
            if reported:  # lets the caller's progress callback cancel or stop us while a pass runs
                on_done(len(reported), reported[-1])
        finished_cleanly = True
    finally:
        if not finished_cleanly:  # a hung or still-running pass: stop it, the pool cannot
            for proc in context.processes:
                if proc.is_alive():
                    proc.kill()
        pool.shutdown(wait=True, cancel_futures=True)
        for proc in context.processes:
            proc.join(POOL_KILL_WAIT_S)


class _ForkContext:
    """The fork start method's context, remembering the processes it starts: the pool does not say
    which of its processes died or how, and a killed renderer's signal is what the user is told."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("fork")
        self.processes: list[multiprocessing.process.BaseProcess] = []

    def Process(self, *args: Any, **kwargs: Any) -> multiprocessing.process.BaseProcess:  # noqa: N802
        proc = self._context.Process(*args, **kwargs)
        self.processes.append(proc)
        return proc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


# The job a pool process renders from: set by ``_pool_init`` in the pool's own processes only (inherited
# through fork), never in the process that renders, so concurrent renders share nothing.
_pool_job: _Job | None = None


def _pool_init(job: _Job, parent: int) -> None:
    """A renderer process starts: it dies with its parent and keeps the job it inherited."""
    global _pool_job
    from weavewave.procs import die_with_parent

    die_with_parent(parent)  # a killed worker or CLI must not leave synthesizers running
    _pool_job = job


def _pool_slot(index: int) -> int:
    """Synthesize one slot in a renderer process. A failure comes back as a short RuntimeError, which
    keeps render()'s check for a SoundFont the synthesizer refuses working as in this process."""
    if _pool_job is None:
        raise RuntimeError("internal: _pool_slot runs only in a process started by _run_pool")
    try:
        return _synthesize_slot(index, _pool_job)
    except Exception as exc:
        raise RuntimeError(
            f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_MAX].removeprefix("RuntimeError: ")
        ) from None


def _pool_failure(processes: list[multiprocessing.process.BaseProcess]) -> RendererDied:
    """The error for a pool whose process ended abruptly: the signal that killed it, when one did."""
    codes = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
    # The pool SIGTERMs the others once one has died: the first other code is the cause.
    cause = next((c for c in codes if c != -signal.SIGTERM), codes[0] if codes else None)
    if cause is not None and cause < 0:
        try:
            name = signal.Signals(-cause).name
        except ValueError:
            name = f"signal {-cause}"
        hint = " (as the out-of-memory killer does)" if -cause == signal.SIGKILL else ""
        return RendererDied(
            f"a renderer process was killed by {name}{hint}; free some memory or render a "
            "shorter piece or fewer stems, then try again"
        )
    return RendererDied(f"a renderer process ended abruptly (exit code {cause}); try again")


def _worker_count(n_passes: int, duration_s: float, workers: int | None) -> int:
    if workers is not None:
        if workers < 1:
            raise BadInputError(f"workers={workers}: use 1 or more")
        wanted = workers
    else:
        if n_passes * duration_s < PARALLEL_MIN_WORK_S:
            return 1
        wanted = min(_cpu_count(), MAX_WORKERS)
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1  # spawning would re-import everything and copy the SoundFont into each worker
    return max(1, min(wanted, n_passes))


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _shared_array(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """A zeroed array in anonymous shared memory that forked workers write into."""
    count = math.prod(shape)
    mem = mmap.mmap(-1, max(1, count * np.dtype(dtype).itemsize))
    return np.frombuffer(mem, dtype, count=count).reshape(shape)


def _synthesize_slot(index: int, job: _Job) -> int:
    """Synthesize ``job.midis[index]`` into ``job.out[index]``."""
    pcm = _synth_pcm(job.sf2, job.midis[index], job.out.shape[2])
    if index in job.whole:
        midi, quiet_from = job.whole[index]
        if pcm[:, quiet_from:].any():  # still sounding where the trimmed pass stops: play it whole
            pcm = _synth_pcm(job.sf2, midi, job.out.shape[2])
    job.clipped[index] = bool((pcm >= np.iinfo(np.int16).max).any() or (pcm <= np.iinfo(np.int16).min).any())
    np.multiply(pcm, np.float32(1.0 / PCM16_SCALE), out=job.out[index], casting="unsafe")
    effect = job.post.get(index)
    if effect is not None:
        slot, n = job.out[index], job.n_keep
        # a loop's tail is folded here, before the effect; zeroed after, so the later fold adds nothing
        audio = _fold_tail(slot[None].copy(), n)[0] if slot.shape[-1] > n else slot
        processed = effect(audio, SAMPLE_RATE)
        slot[:, n:] = 0.0
        slot[:, :n] = processed
    return index


def _synth_pcm(sf2: bytes, midi: bytes, n: int) -> np.ndarray:
    """midirenderer's 16-bit stereo output, first ``n`` frames, as int16 [shape=(2, n)] (zero-padded)."""
    import midirenderer
    import soundfile

    wav = midirenderer.render_wave_from(sf2, midi)
    frames, rate = soundfile.read(io.BytesIO(wav), dtype="int16", always_2d=True)
    if rate != SAMPLE_RATE or frames.shape[1] != 2:
        raise RuntimeError(f"internal: midirenderer returned {frames.shape[1]} channels at {rate} Hz")
    pcm = np.zeros((2, n), np.int16)
    m = min(n, frames.shape[0])
    pcm[:, :m] = frames[:m].T
    return pcm
