"""The genre's sound: per-part effects after the synthesizer (generators/symbolic/effects.py)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from weavewave import describe
from weavewave.generators import get_generator
from weavewave.generators.symbolic import effects as FX
from weavewave.generators.symbolic.compose import compose
from weavewave.generators.symbolic.harmony import KeyContext, SectionSpan, plan_progression

SR = 48000


def _spectrum(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    mono = x.mean(axis=-1) if x.ndim == 2 and x.shape[-1] == 2 else x
    return np.fft.rfftfreq(len(mono), 1 / sr), np.abs(np.fft.rfft(mono)) ** 2


def _share_above_db(x: np.ndarray, sr: int, edge_hz: float = 5000.0) -> float:
    f, p = _spectrum(x, sr)
    return float(10 * np.log10(p[f >= edge_hz].sum() / p.sum()))


def _centroid(x: np.ndarray, sr: int) -> float:
    f, p = _spectrum(x, sr)
    return float((f * p).sum() / max(p.sum(), 1e-30))


@functools.cache
def _track(genre: str, effects: bool, seconds: float = 30.0):
    brief = describe(text="a piece of music", genre=genre, duration=seconds, seed=0)
    return brief, get_generator("symbolic", stems=True, effects=effects).generate(brief)


def test_lofi_is_dusty_its_highs_fall_against_the_same_piece_without_effects():
    _, wet = _track("lofi", True, 16.0)
    _, dry = _track("lofi", False, 16.0)
    assert wet.arrangement.parts[0].notes == dry.arrangement.parts[0].notes  # same notes, other sound
    drop = _share_above_db(dry.audio, SR) - _share_above_db(wet.audio, SR)
    assert drop >= 3.0, f"energy above 5 kHz fell only {drop:.1f} dB"
    assert wet.stats["lufs"] == pytest.approx(-14.0, abs=0.3)


def test_electronic_build_opens_its_filter_and_rises_into_the_drop():
    _, track = _track("electronic", True)
    builds = FX.build_spans(track.arrangement)
    assert builds, "an electronic piece of 30 s has a build"
    _, dry = _track("electronic", False)
    riser = track.stems[f"drums: {FX.RISER_INSTRUMENT}"]
    s, e = builds[0]
    q = (e - s) / 4
    first, last = slice(int(s * SR), int((s + q) * SR)), slice(int((e - q) * SR), int(e * SR))
    synth = next(name for name in track.stems if name.startswith("chords:"))

    def opening(stems: dict) -> float:  # how much brighter the build's last quarter is than its first (dB)
        a = stems[synth]
        return _share_above_db(a[last], SR, 1000.0) - _share_above_db(a[first], SR, 1000.0)

    assert opening(track.stems) > opening(dry.stems) + 6.0  # the low-pass opens over the build
    level = [float(np.sqrt(np.mean(riser[sl] ** 2))) for sl in (first, last)]
    assert level[1] > 4.0 * level[0] > 0  # the riser swells into the drop
    assert _centroid(riser[last], SR) > _centroid(riser[first], SR)
    assert float(np.abs(riser[int(e * SR) + SR :]).max()) < 0.5 * float(np.abs(riser[last]).max())


@pytest.mark.parametrize("genre", ["electronic", "ambient", "lofi"], ids=str)
def test_stems_sum_to_the_mix_with_effects_on(genre: str):
    _, track = _track(genre, True, 30.0 if genre == "electronic" else 16.0)
    total = np.sum(list(track.stems.values()), axis=0)
    assert np.max(np.abs(total - track.audio)) < 2e-3


def test_a_hall_replaces_the_synth_reverb_instead_of_doubling_it():
    brief = describe(text="a piece of music", genre="ambient", duration=16.0, seed=0)
    arrangement = compose(brief)
    plan = FX.plan_effects(arrangement, "ambient")
    halls = {name for name, chain in plan.chains.items() if any(n == "reverb" for n, _ in chain)}
    assert halls
    for part in plan.arrangement.parts:
        assert (part.reverb == 0.0) == (part.name in halls)
    assert arrangement.parts[0].reverb > 0  # the composed arrangement (and its MIDI) is left alone


def test_the_hall_rings_on_after_the_sound_stops():
    x = np.zeros((2, 3 * SR))
    x[:, : SR // 2] = np.random.default_rng(0).standard_normal((2, SR // 2)) * 0.1
    y = FX.reverb(x, SR, decay_s=4.0, wet=0.5, damp_hz=6000.0)
    tail = y[:, SR : 2 * SR]
    assert np.sqrt(np.mean(tail**2)) > 0.01 * np.sqrt(np.mean(y[:, : SR // 2] ** 2))
    assert np.sqrt(np.mean(x[:, SR : 2 * SR] ** 2)) == 0.0


def test_sweep_opens_over_its_span_and_leaves_the_rest_alone():
    x = np.random.default_rng(1).standard_normal((2, 4 * SR)) * 0.1
    y = FX.sweep(x, SR, spans=[(1.0, 3.0)], from_hz=300.0, to_hz=16000.0)
    np.testing.assert_array_equal(y[:, : SR - FX.SWEEP_BLOCK], x[:, : SR - FX.SWEEP_BLOCK])
    # quarters of the span, a block clear of its unfiltered edge
    quarters = [_centroid(y[0, int((1.05 + 0.5 * k) * SR) : int((1.5 + 0.5 * k) * SR)], SR) for k in range(4)]
    assert quarters == sorted(quarters) and quarters[-1] > 4 * quarters[0]


def test_wow_bends_pitch_by_a_few_cents_only():
    t = np.arange(2 * SR) / SR
    x = np.stack([np.sin(2 * np.pi * 440 * t)] * 2)
    y = FX.wow(x, SR, rate_hz=0.5, depth_cents=9.0)
    assert not np.allclose(y[0, SR:], x[0, SR:], atol=1e-2)  # it moves
    f, p = _spectrum(y[0, SR // 2 :], SR)
    peak = f[np.argmax(p)]
    assert abs(1200 * np.log2(peak / 440.0)) < 12.0


def test_genres_without_effects_render_as_before():
    brief = describe(text="a piece of music", genre="jazz", duration=8.0, seed=0)
    assert not FX.plan_effects(compose(brief), "jazz").effects
    on = get_generator("symbolic", effects=True).generate(brief)
    off = get_generator("symbolic", effects=False).generate(brief)
    np.testing.assert_array_equal(on.audio, off.audio)


def test_short_sections_keep_their_own_loop_before_the_cadence():
    key = KeyContext(0, "major")
    sections = [
        SectionSpan(0, 2, "intro", False),
        SectionSpan(2, 4, "a", False),
        SectionSpan(6, 4, "b", True),
    ]
    heads = set()
    for seed in range(4):
        spans = plan_progression(
            sections,
            genre="classical",
            key=key,
            bar_qn=4.0,
            bar_seconds=2.4,
            end_qn=40.0,
            rng_seed=seed,
        )
        body = [s.chord.degree for s in spans if 8.0 <= s.start < 24.0]
        heads.add(tuple(body[:2]))
    assert len(heads) >= 3, heads  # the cadence no longer overwrites all but the first chord


def test_every_section_with_a_dominant_keeps_a_subdominant_and_the_piece_ends_home():
    """Issue 11: cut to V-I, a section of I, V and vi has no 4th degree and is heard in the dominant's key."""
    key = KeyContext(7, "major")
    sections = [
        SectionSpan(0, 2, "intro", False),
        SectionSpan(2, 4, "a", False),
        SectionSpan(6, 4, "b", False),
        SectionSpan(10, 2, "outro", True),
    ]
    for genre in ("rock", "folk", "pop", "classical", "cinematic", "jazz"):  # the genres with cadences
        for seed in range(6):
            spans = plan_progression(
                sections,
                genre=genre,
                key=key,
                bar_qn=4.0,
                bar_seconds=2.4,
                end_qn=48.0,
                rng_seed=seed,
            )
            assert spans[-1].chord.degree == 0, (genre, seed)  # the last bar is the tonic
            for sec in sections[1:3]:
                lo, hi = sec.start_bar * 4.0, (sec.start_bar + sec.bars) * 4.0
                degrees = [s.chord.degree for s in spans if lo <= s.start < hi]
                if 4 in degrees:  # V (degrees count from 0)
                    assert {1, 3} & set(degrees), (genre, seed, sec.theme, degrees)
                    assert degrees.count(4) <= degrees.count(0) + degrees.count(1) + degrees.count(3)


# --- speed (issue 11, effects speed): the same sound, less work -----------------------------------------
def test_hall_spectrum_is_cached_and_the_reverb_sounds_as_uncached():
    x = np.random.default_rng(2).standard_normal((2, 2 * SR)).astype(np.float32) * 0.1
    size = FX._hall_fft_size(x.shape[-1], SR, 1.5)
    first = FX._hall_spectrum(SR, 1.5, 6000.0, size)
    assert FX._hall_spectrum(SR, 1.5, 6000.0, size) is first and not first.flags.writeable
    np.testing.assert_array_equal(first, FX._hall_spectrum_uncached(SR, 1.5, 6000.0, size))
    y = FX.reverb(x, SR, decay_s=1.5, wet=0.5, damp_hz=6000.0)
    assert y.dtype == np.float32 and y.shape == x.shape


def test_wow_reads_what_np_interp_reads():
    import math

    x = np.random.default_rng(3).standard_normal((2, SR)).astype(np.float32)
    rate, depth = 0.55, 9.0
    n = x.shape[-1]
    amp = (2.0 ** (depth / 1200.0) - 1.0) / (2.0 * math.pi * rate)
    t = np.arange(n) / SR
    idx = (t - (FX.WOW_DELAY_S + amp * np.sin(2.0 * math.pi * rate * t))) * SR
    want = np.stack([np.interp(idx, np.arange(n), ch, left=0.0, right=0.0) for ch in x.astype(np.float64)])
    np.testing.assert_allclose(FX.wow(x, SR, rate_hz=rate, depth_cents=depth), want, atol=1e-5)


@pytest.mark.parametrize("loop", [False, True], ids=["piece", "loop"])
def test_effects_in_the_render_processes_give_what_one_process_gives(loop: bool):
    from weavewave.generators.symbolic import render as R

    brief = describe(text="a piece of music", genre="lofi", duration=8.0, seed=0)
    plan = FX.plan_effects(compose(brief), "lofi")
    assert len(plan.effects) >= 2
    mixes = [
        R.render(plan.arrangement, effects=plan.effects, loop=loop, stems=True, workers=w) for w in (1, 2)
    ]
    np.testing.assert_array_equal(mixes[0].audio, mixes[1].audio)
    for name, stem in mixes[0].stems.items():
        np.testing.assert_array_equal(mixes[1].stems[name], stem, err_msg=name)


def test_dry_parts_beside_wet_passes_are_not_split_further():
    from weavewave.generators.symbolic import render as R
    from weavewave.music.arrangement import Note, Part

    parts = [Part(f"p{k}", "Piano", 0, False, "chords", [Note(60 + k, 90, 0.0, 20.0)]) for k in range(3)]
    assert len(R._channel_groups(parts, 30.0)) == R.MIX_PASSES  # alone, split to run side by side
    assert len(R._channel_groups(parts, 30.0, 0)) == 1  # the wet passes already run beside them


# --- sharing passes and trimming them (issue 11, effects speed, second step) -----------------------------
def _octave_bands_db(x: np.ndarray) -> np.ndarray:
    f, p = _spectrum(x, SR)
    return np.array([10 * np.log10(p[(f >= lo) & (f < 2 * lo)].sum()) for lo in 31.25 * 2.0 ** np.arange(9)])


def test_synths_sharing_a_sweep_play_in_one_pass_and_mix_as_their_own_passes_do(monkeypatch):
    from weavewave.generators.symbolic import render as R

    brief = describe(text="a piece of music", genre="electronic", duration=24.0, seed=0)
    plan = FX.plan_effects(compose(brief), "electronic")
    names = [[plan.arrangement.parts[i].name for i in g] for g in plan.groups]
    assert len(names) == 1 and {n.split(":")[0] for n in names[0]} == {"chords", "pad"}
    passes: list[int] = []
    synth = R._synth_pcm
    monkeypatch.setattr(R, "_synth_pcm", lambda *a: passes.append(1) or synth(*a))
    kw = {"effects": plan.effects, "balance": True, "workers": 1}
    shared = R.render(plan.arrangement, effect_groups=plan.groups, **kw)
    n_shared, passes[:] = len(passes), []
    alone = R.render(plan.arrangement, **kw)
    assert len(passes) == n_shared + 1  # one synthesizer pass fewer
    diff = shared.audio - alone.audio
    assert 20 * np.log10(np.sqrt(np.mean(diff**2)) / np.sqrt(np.mean(alone.audio**2))) < -45.0
    np.testing.assert_allclose(_octave_bands_db(shared.audio), _octave_bands_db(alone.audio), atol=0.05)
    # stems: every part alone, as before (each stem is its part's own sound), and they sum to the mix
    with_stems = R.render(plan.arrangement, effect_groups=plan.groups, stems=True, **kw)
    np.testing.assert_array_equal(with_stems.audio, alone.audio)
    total = np.sum(list(with_stems.stems.values()), axis=0)
    assert np.max(np.abs(total - with_stems.audio)) < 2e-3


def test_halls_and_saturation_keep_a_pass_per_part():
    for genre in ("ambient", "lofi", "cinematic"):
        brief = describe(text="a piece of music", genre=genre, duration=12.0, seed=0)
        assert FX.plan_effects(compose(brief), genre).groups == [], genre


def test_wet_passes_group_only_the_playing_parts_of_a_group():
    from weavewave.generators.symbolic.render import _wet_passes

    assert _wet_passes([1, 2, 4, 5], [[2, 5, 7]]) == [[1], [2, 5], [4]]
    assert _wet_passes([1, 2, 4], [[2, 7]]) == [[1], [2], [4]]  # a group of one is a pass of its own
    assert _wet_passes([3, 1], []) == [[1], [3]]


@pytest.mark.parametrize("tail_s", [None, 0.05], ids=["trimmed", "too-short-tail-played-whole"])
def test_a_wet_pass_that_stops_early_is_rendered_only_that_far_with_the_same_sound(monkeypatch, tail_s):
    import io

    import pretty_midi

    from weavewave.generators.symbolic import render as R
    from weavewave.music.arrangement import Arrangement, Note, Part

    strings = [Note(60 + k, 90, 0.1 * k, 2.0) for k in (0, 4, 7)]  # a swell that stops at 2 s of 10
    piano = [Note(48 + (k % 3) * 5, 80, 0.5 * k, 0.5 * k + 0.4) for k in range(19)]
    arrangement = Arrangement(
        parts=[
            Part("pad: strings", "String Ensemble 1", 48, False, "pad", strings, reverb=0.6),
            Part("chords: piano", "Piano", 0, False, "chords", piano, pan=0.3),
        ],
        tempo_bpm=120,
        meter="4/4",
        duration_s=10.0,
        key_tonic="C",
        key_mode="major",
    )
    # time reversed: a tail cut short would change the whole part
    kw = {"effects": {0: lambda audio, sr: audio[:, ::-1] * 0.5}, "stems": True, "workers": 1}
    lengths: list[float] = []
    synth = R._synth_pcm

    def measured(sf2: bytes, midi: bytes, n: int) -> np.ndarray:
        pcm = synth(sf2, midi, n)
        lengths.append(float(np.flatnonzero(pcm.any(axis=0))[-1] + 1) / SR if pcm.any() else 0.0)
        return pcm

    monkeypatch.setattr(R, "TRIM_MIN_SAVING_S", 1e9)  # nothing trimmed: the reference
    whole = R.render(arrangement, **kw)
    monkeypatch.setattr(R, "TRIM_MIN_SAVING_S", 1.0)
    calls: list[bytes] = []
    monkeypatch.setattr(R, "_synth_pcm", lambda sf2, midi, n: calls.append(midi) or measured(sf2, midi, n))
    if tail_s is not None:  # a tail cut while the strings still sound: the pass is played again whole
        monkeypatch.setattr(R, "TRIM_TAIL_S", tail_s)
    trimmed = R.render(arrangement, **kw)
    ends = [pretty_midi.PrettyMIDI(io.BytesIO(m)).get_end_time() for m in calls]
    early = int(np.argmin(ends))
    assert ends[early] < 2.0 + R.TRIM_TAIL_S + 0.01  # the strings' pass stopped early
    if tail_s is not None:  # cut while still sounding, then played whole
        assert lengths[early] > ends[early] - R.TRIM_QUIET_S and ends[early + 1] > 10.0
    np.testing.assert_array_equal(trimmed.audio, whole.audio)
    for name, stem in whole.stems.items():
        np.testing.assert_array_equal(trimmed.stems[name], stem, err_msg=name)
