"""Musicality of the offline composer (issue 11): tunes, voicing, form, mix balance, variety, guards.

    .venv/bin/python bench/bench_musicality.py [--quick] [--json OUT] [--gallery DIR] [--seconds 30]

Sweep: every genre in ``weavewave.music.styles.GENRES`` x 4 seeds with a neutral prompt and ``genre=...``, plus
10 varied text prompts and 5 photographs from scikit-image (``--quick``: 2 seeds, 4 prompts, 2 photos).
Each piece is described, generated with the symbolic backend (timed: the warm real-time factor), its
parts rendered alone (stems, for the balance per role) and its audio measured with the project's eval code.

Real melodies: O'Neill's Irish tunes (music21 corpus ``oneills1850``). The composer learned from Bach
chorales and Essen folk songs (tools/learn_melody_stats.py) and eval compares with ryansMammoth, so this
corpus is held out from both. Its figures are computed from music21 at run time and cached in a small
JSON in the temp folder. The output format is stable, so before/after runs can be compared line by line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")

NEUTRAL_PROMPT = "a piece of music"
SEEDS, QUICK_SEEDS = (0, 1, 2, 3), (0, 1)
PROMPTS = (
    "A rainy night in Tokyo, neon reflections on wet streets, lonely and calm, lo-fi hip hop with a soft "
    "electric piano",  # the demo's prompt
    "a lively jig for a village dance",
    "a jazz trio in a smoky late-night club",
    "heavy rock anthem",
    "a grandmother's lullaby for a sleeping child",
    "a lonely piano at first, then strings join and it builds to a climax",
    "sunrise over a calm sea, slow and hopeful",
    "a festive summer party with friends dancing",
    "a driving techno track for a night drive on the highway",
    "a baroque string quartet in a candlelit hall",
)
QUICK_PROMPTS = 4
PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "hubble_deep_field.jpg")
QUICK_PHOTOS = 2
REAL_CORPUS = "oneills1850"
QUICK_CORPUS_FILES = 6  # of 39 files (about 50 tunes each)
CACHE_VERSION = 1  # bump when the tune statistics change meaning
# Issue 11's targets: (low, high); None = open end.
TARGETS: dict[str, tuple[float | None, float | None]] = {
    "notes_per_quarter": (1.3, 1.9),
    "off_beat": (0.4, 0.6),
    "steps": (0.48, None),
    "leaps": (None, 0.15),
    "direction_changes": (0.45, 0.55),
    "on_top": (0.95, None),
    "sections_4_8": (0.9, None),
    "role_minus_lead_lu": (-10.0, None),
    "intro_minus_body_lu": (-6.0, None),
}
# Tolerances for reading performed (humanised, swung) times on the quarter-note grid.
ON_BEAT_TOL_QN = 0.1
IOI_TOL_QN = 0.1
SIXTEENTH_TOL_QN = 0.09
SOUNDING_PROBE_S = 0.05  # a note "sounds with" the tune note if it sounds this long after its onset
BAR_TOL = 0.1  # a section is a whole number of bars within this
# Section labels that are not body sections (lower case).
INTRO_WORDS = ("intro", "introduction", "prelude")
OUTRO_WORDS = ("outro", "coda", "ending", "end")
TUNE_FIGURES = (
    "notes_per_quarter",
    "off_beat",
    "steps",
    "leaps",
    "direction_changes",
    "gaps_1_2qn",
    "sixteenths",
)
ROLES = ("chords", "pad", "bass", "drums")  # measured against the lead ("melody")


# --- pure helpers (tested in tests/test_bench_musicality.py) --------------------------------------
def beat_qn(meter: str) -> float:
    """The felt beat in quarter notes: a dotted quarter in compound meters (6/8, 9/8, 12/8, 3/8), else a quarter."""
    num, den = (int(x) for x in meter.split("/"))
    return 1.5 if den == 8 and num % 3 == 0 else 1.0


def tune_counts(notes: list[tuple[float, int]], *, bar_qn: float, beat: float) -> Counter:
    """Counts behind the tune statistics of one monophonic tune.

    ``notes``: (onset in quarter notes from a downbeat, MIDI pitch), in time order. Counts pool across
    tunes; :func:`tune_figures` turns them into fractions.
    """
    c: Counter = Counter()
    if len(notes) < 2:
        return c
    onsets = [t for t, _ in notes]
    pitches = [p for _, p in notes]
    c["notes"] = len(notes)
    c["active_qn"] = len({int(t // bar_qn + 1e-9) for t in onsets}) * bar_qn  # bars the tune plays in
    c["off_beat"] = sum(abs(t / beat - round(t / beat)) * beat > ON_BEAT_TOL_QN for t in onsets)
    steps = [b - a for a, b in zip(pitches, pitches[1:], strict=False)]
    c["intervals"] = len(steps)
    c["steps"] = sum(1 <= abs(s) <= 2 for s in steps)
    c["leaps"] = sum(abs(s) >= 5 for s in steps)
    moves = [s for s in steps if s]
    c["moves"] = len(moves)
    c["direction_changes"] = sum((a > 0) != (b > 0) for a, b in zip(moves, moves[1:], strict=False))
    iois = [b - a for a, b in zip(onsets, onsets[1:], strict=False)]
    c["iois"] = len(iois)
    c["gaps_1_2qn"] = sum(any(abs(g - q) <= IOI_TOL_QN for q in (1.0, 1.5, 2.0)) for g in iois)
    c["sixteenths"] = sum(abs(g - 0.25) <= SIXTEENTH_TOL_QN for g in iois)
    return c


def tune_figures(c: Counter) -> dict[str, float | None]:
    """Issue 11's tune statistics from pooled :func:`tune_counts`."""

    def ratio(a: str, b: str) -> float | None:
        return round(c[a] / c[b], 3) if c[b] else None

    return {
        "notes_per_quarter": ratio("notes", "active_qn"),
        "off_beat": ratio("off_beat", "notes"),
        "steps": ratio("steps", "intervals"),
        "leaps": ratio("leaps", "intervals"),
        "direction_changes": round(c["direction_changes"] / (c["moves"] - 1), 3) if c["moves"] > 1 else None,
        "gaps_1_2qn": ratio("gaps_1_2qn", "iois"),
        "sixteenths": ratio("sixteenths", "iois"),
    }


def on_top(tune: list[tuple[float, float, int]], others: list[tuple[float, float, int]]) -> tuple[int, int]:
    """(tune notes at or above every other note sounding with them, tune notes). Notes: (start_s, end_s, pitch)."""
    top = 0
    for start, end, pitch in tune:
        t = start + min(SOUNDING_PROBE_S, 0.5 * (end - start))
        top += all(p <= pitch for s, e, p in others if s <= t < e)
    return top, len(tune)


def whole_bar_units(lengths_bars: list[float]) -> tuple[int, int]:
    """(sections whose length is 4, 8 or another multiple of 4 whole bars, sections)."""
    ok = sum(abs(b - round(b)) <= BAR_TOL and round(b) > 0 and round(b) % 4 == 0 for b in lengths_bars)
    return ok, len(lengths_bars)


def signature(obj: object) -> str:
    """A short stable hash, so the JSON stays small and two runs compare."""
    return hashlib.sha1(repr(obj).encode()).hexdigest()[:10]


def in_target(name: str, value: float | None) -> str:
    if value is None or name not in TARGETS:
        return ""
    lo, hi = TARGETS[name]
    return "ok" if (lo is None or value >= lo) and (hi is None or value <= hi) else "MISS"


# --- the real corpus --------------------------------------------------------------------------------
def real_tune_counts(max_files: int | None) -> tuple[Counter, int]:
    """Pooled tune counts of O'Neill's tunes (music21), cached in the temp folder; and the number of tunes."""
    cache = (
        Path(tempfile.gettempdir()) / f"weavewave-bench-musicality-{REAL_CORPUS}-v{CACHE_VERSION}-"
        f"{max_files or 'all'}.json"
    )
    if cache.exists():
        data = json.loads(cache.read_text())
        return Counter(data["counts"]), data["tunes"]
    from music21 import corpus

    total: Counter = Counter()
    tunes = 0
    for path in corpus.getComposer(REAL_CORPUS)[:max_files]:
        opus = corpus.parse(path)
        for score in getattr(opus, "scores", [opus]):
            notes, bar_qn, beat = _score_tune(score)
            if notes:
                total += tune_counts(notes, bar_qn=bar_qn, beat=beat)
                tunes += 1
    cache.write_text(json.dumps({"counts": dict(total), "tunes": tunes}))
    return total, tunes


def _score_tune(score) -> tuple[list[tuple[float, int]], float, float]:  # noqa: ANN001
    """(onset from the bar grid, top pitch) of a one-meter tune, and its bar and beat in quarter notes."""
    sigs = score.flatten().getElementsByClass("TimeSignature")
    if len(sigs) != 1 or sigs[0].denominator not in (2, 4, 8):
        return [], 0.0, 0.0  # meter changes, or odd signatures such as 1/8
    bar_qn = float(sigs[0].barDuration.quarterLength)
    measures = score.parts[0].getElementsByClass("Measure") if score.parts else []
    pickup = float(measures[0].paddingLeft) if len(measures) else 0.0  # an anacrusis starts mid-bar
    notes = []
    for n in score.stripTies().flatten().notes:
        if n.duration.quarterLength <= 0:
            continue  # grace notes
        pitch = max(p.midi for p in n.pitches)
        notes.append((float(n.getOffsetInHierarchy(score)) + pickup, pitch))
    return sorted(notes), bar_qn, beat_qn(sigs[0].ratioString)


# --- one piece ----------------------------------------------------------------------------------------
def qn_seconds(arrangement) -> float:  # noqa: ANN001
    return 60.0 / arrangement.midi_quarter_bpm()


def tune_and_others(arrangement) -> tuple[list, list]:  # noqa: ANN001
    """The tune (the top line of the parts whose role is melody) and the other pitched notes (no drums or bass)."""
    from weavewave.music.melodic import skyline

    lead = [(n.start, n.end, n.pitch) for p in arrangement.parts if p.role == "melody" for n in p.notes]
    tune = skyline(lead)
    in_tune = {(s, p) for s, _, p in tune}
    others = [x for x in lead if (x[0], x[2]) not in in_tune]
    others += [
        (n.start, n.end, n.pitch)
        for p in arrangement.parts
        if p.role not in ("melody", "bass", "drums") and not p.is_drum
        for n in p.notes
    ]
    return tune, others


def bar_pitch_classes(arrangement, bars: range, tonic_pc: int) -> tuple:  # noqa: ANN001
    """Per bar, the harmony parts' pitch classes relative to the tonic (chords/pad, else other accompaniment)."""
    harmony = [p for p in arrangement.parts if p.role in ("chords", "pad")] or [
        p for p in arrangement.parts if p.role not in ("melody", "bass", "drums") and not p.is_drum
    ]
    bar_s = qn_seconds(arrangement) * _bar_qn(arrangement.meter)
    out = []
    for b in bars:
        lo, hi = b * bar_s + 0.05, (b + 1) * bar_s - 0.05
        out.append(
            tuple(
                sorted(
                    {
                        (n.pitch - tonic_pc) % 12
                        for p in harmony
                        for n in p.notes
                        if n.start < hi and n.end > lo
                    }
                )
            )
        )
    return tuple(out)


def groove(arrangement) -> frozenset:  # noqa: ANN001
    """The core groove: every (drum, sixteenth slot) that plays in at least half the bars with drums.

    Fills, crashes and seeded ghost notes make almost every bar unique, so the set of whole-bar patterns
    would call any two seeds different; the core is what a listener hears as the beat.
    """
    bar_qn, q = _bar_qn(arrangement.meter), qn_seconds(arrangement)
    bars: dict[int, set] = defaultdict(set)
    for p in arrangement.parts:
        if p.is_drum:
            for n in p.notes:
                pos = n.start / q
                bars[int(pos // bar_qn)].add((n.pitch, round((pos % bar_qn) * 4) % round(bar_qn * 4)))
    hits = Counter(h for v in bars.values() for h in v)
    return frozenset(h for h, k in hits.items() if 2 * k >= len(bars))


def _bar_qn(meter: str) -> float:
    from weavewave.music.theory import beats_per_bar

    return float(beats_per_bar(meter))


def is_intro(label: str) -> bool:
    return label.strip().lower() in INTRO_WORDS


def is_outro(label: str) -> bool:
    return label.strip().lower() in OUTRO_WORDS


def measure_piece(group: str, name: str, kwargs: dict, seconds: float) -> tuple[dict, object, object]:
    """Describe, generate (timed), render stems, measure. Returns (record, track, stems mix)."""
    import numpy as np

    from weavewave import describe
    from weavewave.dsp.loudness import integrated_lufs
    from weavewave.evaluate.adherence import audio_adherence
    from weavewave.generators import get_generator
    from weavewave.music.theory import tonic_pitch_class

    brief = describe(duration=seconds, **kwargs)
    t0 = time.perf_counter()
    track = get_generator("symbolic").generate(brief)
    gen_s = time.perf_counter() - t0
    arr, sr = track.arrangement, track.sample_rate
    # The stems the product writes (`--stems`): the generator's own mix settings, whatever they are.
    stems = get_generator("symbolic", stems=True).generate(brief)
    q, bar_qn = qn_seconds(arr), _bar_qn(arr.meter)
    bar_s = q * bar_qn

    tune, others = tune_and_others(arr)
    counts = tune_counts([(s / q, p) for s, _, p in tune], bar_qn=bar_qn, beat=beat_qn(arr.meter))
    top = on_top(tune, others)
    body = [s for s in brief.sections if not is_intro(s.label) and not is_outro(s.label)]
    units = whole_bar_units([(s.end_s - s.start_s) / bar_s for s in body])

    def lufs(audio) -> float:  # noqa: ANN001
        v = integrated_lufs(audio, sr)
        return -70.0 if v is None else v  # silence: far below anything measured

    by_role: dict[str, np.ndarray] = {}
    for part, audio in zip(arr.parts, stems.stems.values(), strict=True):
        by_role[part.role] = by_role.get(part.role, 0) + audio
    role_lufs = {r: integrated_lufs(a, sr) for r, a in by_role.items()}
    lead = role_lufs.get("melody")
    # A role in the ensemble that never sounds is listed apart, not scored as a -70 LU level.
    silent = sorted(r for r, v in role_lufs.items() if v is None)
    balance = {
        r: round(v - lead, 2) for r, v in role_lufs.items() if r != "melody" and v is not None and lead
    }
    sec_lufs = [lufs(track.audio[int(s.start_s * sr) : int(s.end_s * sr)]) for s in brief.sections]
    body_l = [v for s, v in zip(brief.sections[1:], sec_lufs[1:], strict=True) if not is_outro(s.label)]
    intro_body = round(sec_lufs[0] - max(body_l), 2) if len(sec_lufs) > 1 and body_l else None
    contrast = [round(abs(b - a), 2) for a, b in zip(sec_lufs, sec_lufs[1:], strict=False)]
    adh = audio_adherence(track.audio, sr, brief)

    first_body = next((s for s in brief.sections if not is_intro(s.label)), None)
    b0 = round(first_body.start_s / bar_s) if first_body else 0
    n_bars = min(8, max(1, round((first_body.end_s - first_body.start_s) / bar_s))) if first_body else 1
    record = {
        "group": group,
        "name": name,
        "genre": brief.genre,
        "seed": brief.seed,
        "tempo": brief.tempo_bpm,
        "meter": brief.meter,
        "key": str(brief.key),
        "instruments": list(brief.instruments),
        "parts": [f"{p.role}: {p.instrument}" for p in arr.parts],
        "form": [(s.label, round((s.end_s - s.start_s) / bar_s, 2)) for s in brief.sections],
        "progression": signature(
            bar_pitch_classes(arr, range(b0, b0 + n_bars), tonic_pitch_class(brief.key.tonic))
        ),
        "groove": signature(sorted(groove(arr))),
        "tune_counts": dict(counts),
        "tune": tune_figures(counts),
        "on_top": top,
        "sections_4_8": units,
        "balance_lu": balance,
        "silent_roles": silent,
        "intro_minus_body_lu": intro_body,
        "section_lufs": [round(v, 2) for v in sec_lufs],
        "contrast_lu": contrast,
        "tempo_acc1": bool(adh["tempo_acc1"]),
        "key_mirex": adh["key_mirex"],
        "lufs": adh["lufs"],
        "true_peak_dbfs": adh["true_peak_dbfs"],
        "length_error_s": adh["duration_error_s"],
        "generate_s_per_s": round(gen_s / brief.duration_s, 4),
    }
    return record, track, stems


# --- the sweep ------------------------------------------------------------------------------------------
def sweep(quick: bool) -> list[tuple[str, str, dict]]:
    """(group, name, describe kwargs) for every piece."""
    from weavewave.music.styles import GENRES

    photo_dir = Path(__import__("skimage").__file__).parent / "data"
    out = [
        (f"genre:{g}", f"{g} seed {s}", dict(text=NEUTRAL_PROMPT, genre=g, seed=s))
        for g in GENRES
        for s in (QUICK_SEEDS if quick else SEEDS)
    ]
    out += [("prompt", p[:40], dict(text=p, seed=0)) for p in PROMPTS[: QUICK_PROMPTS if quick else None]]
    out += [
        ("photo", ph, dict(image=str(photo_dir / ph), seed=0))
        for ph in PHOTOS[: QUICK_PHOTOS if quick else None]
    ]
    return out


def summarise(records: list[dict]) -> dict:
    """Pooled figures of a set of pieces."""
    counts: Counter = Counter()
    for r in records:
        counts.update(r["tune_counts"])
    top = [sum(r["on_top"][i] for r in records) for i in (0, 1)]
    units = [sum(r["sections_4_8"][i] for r in records) for i in (0, 1)]
    balance: dict[str, list[float]] = defaultdict(list)
    for r in records:
        for role, v in r["balance_lu"].items():
            balance[role].append(v)
    intro = [r["intro_minus_body_lu"] for r in records if r["intro_minus_body_lu"] is not None]
    contrast = [c for r in records for c in r["contrast_lu"]]
    return {
        "pieces": len(records),
        "tune": tune_figures(counts),
        "on_top": round(top[0] / top[1], 3) if top[1] else None,
        "sections_4_8": round(units[0] / units[1], 3) if units[1] else None,
        "balance_lu": {role: round(statistics.fmean(v), 1) for role, v in sorted(balance.items())},
        "balance_worst_lu": round(min((min(v) for v in balance.values()), default=0.0), 1),
        "silent_roles": sum(len(r["silent_roles"]) for r in records),
        "intro_minus_body_lu": round(statistics.fmean(intro), 1) if intro else None,
        "intro_minus_body_worst_lu": round(min(intro), 1) if intro else None,
        "contrast_lu": round(statistics.fmean(contrast), 2) if contrast else None,
        "contrast_3lu": round(sum(c >= 3 for c in contrast) / len(contrast), 2) if contrast else None,
        "variety": {
            k: len({json.dumps(r[k]) for r in records})
            for k in ("tempo", "progression", "groove", "form", "instruments")
        },
        "tempo_acc1": round(statistics.fmean(r["tempo_acc1"] for r in records), 2),
        "key_mirex": round(statistics.fmean(r["key_mirex"] for r in records), 2),
        "lufs": [min(r["lufs"] for r in records), max(r["lufs"] for r in records)],
        "true_peak_max_dbfs": max(r["true_peak_dbfs"] for r in records),
        "length_error_max_s": max(abs(r["length_error_s"]) for r in records),
        "generate_s_per_s": round(statistics.median(r["generate_s_per_s"] for r in records), 4),
    }


def _f(x: object, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def print_report(groups: dict[str, dict], real: dict, n_real: int, corpus_note: str) -> None:
    print("\n## Tune statistics (melody part: top line of the parts whose role is melody)\n")
    print(
        f"Real: {n_real} tunes of O'Neill's Irish tunes (music21 `{REAL_CORPUS}`{corpus_note}), held out: the "
        "composer learned from Bach chorales and Essen folk songs, eval compares with ryansMammoth.\n"
    )
    print(
        "| set | pieces | notes/qn | off-beat | steps | leaps ≥4th | dir. changes | gaps 1/1.5/2 qn | 16ths |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    rows = [(k, v["pieces"], v["tune"]) for k, v in groups.items()] + [("**real (O'Neill's)**", n_real, real)]
    for name, n, t in rows:
        print(f"| {name} | {n} | " + " | ".join(_f(t[k]) for k in TUNE_FIGURES) + " |")
    print("| target (issue 11) | | 1.3–1.9 | 0.4–0.6 | ≥ 0.48 | ≤ 0.15 | 0.45–0.55 | | |")

    print(
        "\n## Voicing, form and variety per genre (4/8-bar: non-intro/outro sections; variety: distinct of n)\n"
    )
    print("| set | tune on top | 4/8-bar sections | tempi | progressions | grooves | forms | ensembles |")
    print("|---|---|---|---|---|---|---|---|")
    for k, v in groups.items():
        var = v["variety"]
        print(
            f"| {k} | {_f(v['on_top'])} | {_f(v['sections_4_8'])} | {var['tempo']}/{v['pieces']} | "
            f"{var['progression']}/{v['pieces']} | {var['groove']}/{v['pieces']} | {var['form']}/{v['pieces']} | "
            f"{var['instruments']}/{v['pieces']} |"
        )
    print(
        "| target | ≥ 0.95 | ≥ 0.90 | seeds differ | seeds differ | seeds differ | seeds differ | photos differ |"
    )

    print("\n## Mix: stem level per role relative to the lead (LU, mean), intro and sections (LU)\n")
    print(
        "| set | " + " | ".join(ROLES) + " | worst role | silent roles | intro−body (mean / worst) | "
        "section contrast (mean / ≥ 3 LU) |"
    )
    print("|---|" + "---|" * (len(ROLES) + 4))
    for k, v in groups.items():
        print(
            f"| {k} | "
            + " | ".join(_f(v["balance_lu"].get(r), 1) for r in ROLES)
            + f" | {_f(v['balance_worst_lu'], 1)} | {v['silent_roles']} | {_f(v['intro_minus_body_lu'], 1)} / "
            f"{_f(v['intro_minus_body_worst_lu'], 1)} | {_f(v['contrast_lu'], 1)} / {_f(v['contrast_3lu'])} |"
        )
    print("| target | | | | | ≥ −10 | 0 | ≥ −6 | ≥ 3 LU where the energy asks |")

    print("\n## No-regression guards\n")
    print(
        "| set | tempo Acc1 | key MIREX | LUFS min..max | true peak max | length err max s | generate s / audio s |"
    )
    print("|---|---|---|---|---|---|---|")
    for k, v in groups.items():
        print(
            f"| {k} | {v['tempo_acc1']:.2f} | {v['key_mirex']:.2f} | {v['lufs'][0]:.2f}..{v['lufs'][1]:.2f} | "
            f"{v['true_peak_max_dbfs']:.2f} | {v['length_error_max_s']:.4f} | {v['generate_s_per_s']:.3f} |"
        )


def print_summary(a: dict, real: dict) -> None:
    t = a["tune"]
    print("\n## Summary (all pieces)\n")
    lines = [(k.replace("_", " "), t[k], real[k], k) for k in TUNE_FIGURES]
    lines += [
        ("tune on top", a["on_top"], None, "on_top"),
        ("4/8-bar sections", a["sections_4_8"], None, "sections_4_8"),
        ("worst role vs lead LU", a["balance_worst_lu"], None, "role_minus_lead_lu"),
        ("worst intro vs body LU", a["intro_minus_body_worst_lu"], None, "intro_minus_body_lu"),
        ("roles in the ensemble that never sound", a["silent_roles"], None, ""),
    ]
    for label, value, ref, key in lines:
        lo, hi = TARGETS.get(key, (None, None))
        target = (
            ""
            if key not in TARGETS
            else f", target {_f(lo) if lo is not None else ''}..{_f(hi) if hi is not None else ''}"
        )
        real_s = "" if ref is None else f" (real {_f(ref)})"
        print(f"- {label}: {_f(value)}{real_s}{target} {in_target(key, value)}".rstrip())
    print(
        f"- tempo Acc1 {a['tempo_acc1']:.2f}, key MIREX {a['key_mirex']:.2f}, LUFS {a['lufs'][0]:.2f}..{a['lufs'][1]:.2f}, "
        f"true peak max {a['true_peak_max_dbfs']:.2f} dBTP, length error max {a['length_error_max_s']:.4f} s, "
        f"warm generate {a['generate_s_per_s']:.3f} s per audio s ({1 / a['generate_s_per_s']:.0f}x real time)"
    )


def gallery(folder: Path, name: str, track, record: dict) -> None:  # noqa: ANN001
    """One piano roll and one spectrogram PNG (1000x400) of a piece."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    from weavewave.evaluate.plots import draw_pianoroll, draw_spectrogram, track_view

    view = track_view(
        name, track.audio, track.sample_rate, track.brief, {}, track.arrangement.to_pretty_midi()
    )
    folder.mkdir(parents=True, exist_ok=True)
    for pic, draw in (("pianoroll", draw_pianoroll), ("spectrogram", draw_spectrogram)):
        fig = Figure(figsize=(10, 4), dpi=100)
        fig.subplots_adjust(left=0.07, right=0.99, bottom=0.12, top=0.86)
        ax = fig.add_subplot()
        draw(ax, view)
        ax.set_xlim(0, view.duration_s)
        ax.set_xlabel("time (s)", fontsize=9)
        fig.suptitle(f"{name}: {track.brief.summary()}"[:140], fontsize=9, x=0.01, ha="left")
        fig.savefig(folder / f"{name}-{pic}.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="2 seeds, 4 prompts, 2 photos, part of the real corpus"
    )
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--json", type=Path, help="write every figure (and every piece's record) here")
    ap.add_argument("--gallery", type=Path, help="write a piano roll and a spectrogram PNG per genre here")
    args = ap.parse_args()

    t0 = time.perf_counter()
    real_counts, n_real = real_tune_counts(QUICK_CORPUS_FILES if args.quick else None)
    real = tune_figures(real_counts)
    print(
        f"# weavewave bench_musicality{' --quick' if args.quick else ''}, {args.seconds:g} s pieces, "
        f"{os.cpu_count()} CPUs (real corpus: {time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    from weavewave import describe
    from weavewave.generators import get_generator

    get_generator("symbolic").generate(
        describe(text=NEUTRAL_PROMPT, duration=args.seconds, seed=99)
    )  # warm-up
    records, t1 = [], time.perf_counter()
    for group, name, kwargs in sweep(args.quick):
        record, track, _ = measure_piece(group, name, kwargs, args.seconds)
        records.append(record)
        if (
            args.gallery
            and group.startswith("genre:")
            and record["seed"] == (QUICK_SEEDS if args.quick else SEEDS)[0]
        ):
            gallery(args.gallery, record["genre"], track, record)
    print(f"{len(records)} pieces measured in {time.perf_counter() - t1:.0f} s", flush=True)

    by_group: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_group[r["group"]].append(r)
    groups = {k: summarise(v) for k, v in by_group.items()}
    overall = summarise(records)
    groups["all"] = overall
    print_report(groups, real, n_real, f", first {QUICK_CORPUS_FILES} files" if args.quick else "")
    print(
        "\nPrompts read as: "
        + "; ".join(
            f"{r['name']!r} → {r['genre']} {r['tempo']:g} BPM, {len(r['instruments'])} instruments"
            for r in by_group.get("prompt", [])
        )
    )
    print(
        "Photos read as: "
        + "; ".join(
            f"{r['name']} → {r['genre']} {r['tempo']:g} BPM ({', '.join(r['instruments'])})"
            for r in by_group.get("photo", [])
        )
    )
    print_summary(overall, real)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "quick": args.quick,
                    "seconds": args.seconds,
                    "real_corpus": REAL_CORPUS,
                    "real_tunes": n_real,
                    "real": real,
                    "targets": TARGETS,
                    "groups": groups,
                    "pieces": records,
                },
                indent=1,
            )
        )
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
