"""Does the symbolic generator sound in the key it was asked for? Where it does not, what was heard, and why.

    .venv/bin/python bench/bench_key_adherence.py [--tonics 2] [--seconds 20] [--before REV] [--json PATH]

A sweep of briefs: every genre x four modes (major, minor, dorian, mixolydian) x ``--tonics`` tonics
(spread round the circle of fifths), meters and tempi cycling, seeds fixed by position. For each piece:

- **audio key**: ``analyze.estimate_key`` on the rendered mix (the adherence metric, Krumhansl-Kessler
  profiles on mean CQT chroma), its MIREX score against the asked key (modes score as the major/minor key
  with the same tonic and third), and what it heard on a miss: fifth up/down, relative, parallel, other.
- **MIDI key**: the same profiles correlated with the arrangement's pitch-class histogram weighted by
  note duration (drums left out). It reads the composition without rendering or chroma, so a miss here
  is the music's, and a miss only in the audio column is rendering or estimation.
- The same two with Aarden-Essen profiles (the audio perceiver's, ``profile="aarden"``), for comparison.
- Tonal centring facts from the MIDI: does the bass start and end on the tonic, the share of bass time on
  the tonic, does the melody end on the tonic; plus scale consistency and pitch-class entropy
  (``evaluate.symbolic``) to show variety.

``--baseline-sweep 100 --seconds 30`` runs the first quality baseline's 100 briefs and seeds instead
(``bench/bench_eval.py``: 9 genres, 12 tonics, 4 modes, 3 tempi, 3 meters).

``--before REV`` also runs the same sweep with the generator of git revision REV (its ``src`` exported to
a temporary folder and put first on ``PYTHONPATH``) and prints both side by side: same briefs, same seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

TONICS = ("C", "G", "D", "A", "E", "B", "F#", "Db", "Ab", "Eb", "Bb", "F")  # by fifths
MODES = ("major", "minor", "dorian", "mixolydian")
METERS = ("4/4", "3/4", "6/8")
TEMPO_POINTS = (0.3, 0.5, 0.7)  # where in the genre's tempo range
PC_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
REPO = Path(__file__).resolve().parents[1]


def sweep(n_tonics: int) -> list[dict]:
    """Brief settings: genre x mode x tonic; tonics step by fifths so each genre meets different keys."""
    from weavewave.music.styles import GENRES

    out = []
    for gi, genre in enumerate(GENRES):
        lo, hi = GENRES[genre].tempo_range
        for mi, mode in enumerate(MODES):
            for ti in range(n_tonics):
                k = len(out)
                tonic = TONICS[(gi * 5 + mi * 3 + ti * 6) % 12]
                out.append(
                    dict(
                        genre=genre,
                        key=f"{tonic} {mode}",
                        meter=METERS[(gi + mi + ti) % 3],
                        tempo=round(lo + (hi - lo) * TEMPO_POINTS[(gi + ti) % 3]),
                        seed=k,
                    )
                )
    return out


def relation(est: tuple[int, str], ref: tuple[int, str]) -> str:
    """What an estimate is to the reference key: exact, fifth up/down, relative, parallel or other."""
    (et, em), (rt, rm) = est, ref
    if (et, em) == (rt, rm):
        return "exact"
    if em == rm and (et - rt) % 12 == 7:
        return "fifth up"
    if em == rm and (et - rt) % 12 == 5:
        return "fifth down"
    if em != rm and et == (rt + (9 if rm == "major" else 3)) % 12:
        return "relative"
    if et == rt:
        return "parallel"
    return "other"


def midi_histogram(arrangement) -> list[float]:  # noqa: ANN001
    """Seconds sounded per pitch class, C first, over every pitched part."""
    hist = [0.0] * 12
    for part in arrangement.parts:
        if part.is_drum:
            continue
        for n in part.notes:
            hist[n.pitch % 12] += n.end - n.start
    return hist


def centring(arrangement, tonic: int) -> dict:  # noqa: ANN001
    """Tonal-centring facts: bass first/last note and share of time on the tonic, melody's last note."""
    bass = next((p for p in arrangement.parts if p.role == "bass" and p.notes), None)
    if bass is None:  # no bass part: the lowest notes of the pitched parts stand in
        notes = [n for p in arrangement.parts if not p.is_drum for n in p.notes]
        bass_notes = sorted(notes, key=lambda n: (n.start, n.pitch))
    else:
        bass_notes = sorted(bass.notes, key=lambda n: (n.start, n.pitch))
    melody = next((p for p in arrangement.parts if p.role == "melody" and p.notes), None)
    out = {
        "bass_first_tonic": None,
        "bass_last_tonic": None,
        "bass_tonic_share": None,
        "melody_last_tonic": None,
    }
    if bass_notes:
        total = sum(n.end - n.start for n in bass_notes)
        out["bass_first_tonic"] = bass_notes[0].pitch % 12 == tonic
        last = max(bass_notes, key=lambda n: (n.start, -n.pitch))
        out["bass_last_tonic"] = last.pitch % 12 == tonic
        out["bass_tonic_share"] = sum(n.end - n.start for n in bass_notes if n.pitch % 12 == tonic) / total
    if melody is not None:
        out["melody_last_tonic"] = max(melody.notes, key=lambda n: n.start).pitch % 12 == tonic
    return out


def measure(setting: dict, seconds: float) -> dict:
    """Generate one piece and measure its key from audio and MIDI."""
    import numpy as np
    import pretty_midi

    import weavewave
    from weavewave.evaluate.symbolic import pitch_class_entropy, scale_consistency
    from weavewave.music import analysis as analyze

    s = dict(setting)
    track = weavewave.generate(text="a piece", duration=seconds, text_model="lexicon", **s)
    tonic, mode = track.brief.key.tonic, track.brief.key.mode
    ref = analyze.reference_key(tonic, mode)
    y = analyze.analysis_signal(track.audio, track.sample_rate)
    import librosa

    chroma = librosa.feature.chroma_cqt(y=y, sr=analyze.ANALYSIS_SR).mean(axis=1)
    hist = np.array(midi_histogram(track.arrangement))
    row = dict(s, n_parts=len(track.arrangement.parts))
    for name, vec in (("audio", chroma), ("midi", hist)):
        for profile in ("krumhansl", "aarden"):
            et, em, _ = analyze.key_from_chroma(vec, profile=profile)
            tag = name if profile == "krumhansl" else f"{name}_aarden"
            row[tag] = f"{PC_NAMES[et]} {em}"
            row[f"{tag}_rel"] = relation((et, em), ref)
            row[f"{tag}_mirex"] = analyze.mirex_key_score((et, em), ref)
    # Sanity: the estimator used here on the audio is the metric's own.
    et, em, _ = analyze.estimate_key(y, analyze.ANALYSIS_SR)
    assert f"{PC_NAMES[et]} {em}" == row["audio"], "estimate_key changed; update this script"
    pm = pretty_midi.PrettyMIDI(__import__("io").BytesIO(track.arrangement.to_midi_bytes()))
    row["scale_consistency"] = scale_consistency(pm, tonic, mode)
    row["pc_entropy"] = pitch_class_entropy(pm)
    row.update(centring(track.arrangement, ref[0]))
    return row


def eval_sweep(n: int) -> list[dict]:
    """The quality baseline's briefs (``bench/bench_eval.py``, set A): seeds 0.., as that script makes them."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_eval import sweep as baseline_sweep

    return [dict(s, seed=i) for i, s in enumerate(baseline_sweep(n))]


def run_sweep(n_tonics: int, seconds: float, baseline: int = 0) -> list[dict]:
    rows = []
    t0 = time.perf_counter()
    for i, s in enumerate(eval_sweep(baseline) if baseline else sweep(n_tonics)):
        rows.append(measure(s, seconds))
        if (i + 1) % 12 == 0:
            print(f"  {i + 1} pieces, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return rows


def _mean(rows: list[dict], k: str) -> float:
    vals = [float(r[k]) for r in rows if r.get(k) is not None]
    return statistics.fmean(vals) if vals else float("nan")


def _groups(rows: list[dict]) -> list[tuple[str, list[dict]]]:
    by: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by[r["genre"]].append(r)
    for r in rows:
        by[r["key"].split()[1]].append(r)
    for r in rows:
        by[r["meter"]].append(r)
    return [*by.items(), ("all", rows)]


def _misses(rows: list[dict], k: str) -> str:
    c = Counter(r[f"{k}_rel"] for r in rows if r[f"{k}_rel"] != "exact")
    order = ("fifth up", "fifth down", "relative", "parallel", "other")
    return ", ".join(f"{name} {c[name]}" for name in order if c[name]) or "-"


def print_report(rows: list[dict], title: str) -> None:
    print(f"\n### {title}: {len(rows)} pieces\n")
    print(
        "| group | n | audio MIREX | audio exact | audio misses | MIDI MIREX | MIDI exact | MIDI misses | "
        "audio MIREX (Aarden) | bass ends on tonic | bass time on tonic | melody ends on tonic | "
        "scale consistency | pc entropy |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, g in _groups(rows):
        print(
            f"| {name} | {len(g)} | {_mean(g, 'audio_mirex'):.2f} | {sum(r['audio_rel'] == 'exact' for r in g) / len(g):.2f} "
            f"| {_misses(g, 'audio')} | {_mean(g, 'midi_mirex'):.2f} | "
            f"{sum(r['midi_rel'] == 'exact' for r in g) / len(g):.2f} | {_misses(g, 'midi')} | "
            f"{_mean(g, 'audio_aarden_mirex'):.2f} | {_mean(g, 'bass_last_tonic'):.2f} | "
            f"{_mean(g, 'bass_tonic_share'):.2f} | {_mean(g, 'melody_last_tonic'):.2f} | "
            f"{_mean(g, 'scale_consistency'):.3f} | {_mean(g, 'pc_entropy'):.2f} |"
        )
    print("\nMisses (audio, Krumhansl-Kessler):\n")
    print(
        "| genre | asked | meter | heard (audio) | relation | heard (MIDI) | relation | bass ends on tonic |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r["audio_rel"] != "exact":
            print(
                f"| {r['genre']} | {r['key']} | {r['meter']} | {r['audio']} | {r['audio_rel']} | {r['midi']} | "
                f"{r['midi_rel']} | {r['bass_last_tonic']} |"
            )


def print_side_by_side(before: list[dict], after: list[dict]) -> None:
    print(f"\n### Before / after: {len(after)} pieces, same briefs and seeds\n")
    print(
        "| group | n | audio MIREX | audio exact | MIDI MIREX | MIDI exact | audio MIREX (Aarden) | "
        "bass time on tonic | scale consistency | pc entropy |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    gb = dict(_groups(before))
    for name, g in _groups(after):
        b = gb[name]

        def pair(k: str, fmt: str = ".2f", b=b, g=g) -> str:  # noqa: ANN001
            return f"{_mean(b, k):{fmt}} → {_mean(g, k):{fmt}}"

        def exact(k: str, b=b, g=g) -> str:  # noqa: ANN001
            return (
                f"{sum(r[k] == 'exact' for r in b) / len(b):.2f} → "
                f"{sum(r[k] == 'exact' for r in g) / len(g):.2f}"
            )

        print(
            f"| {name} | {len(g)} | {pair('audio_mirex')} | {exact('audio_rel')} | {pair('midi_mirex')} | "
            f"{exact('midi_rel')} | {pair('audio_aarden_mirex')} | {pair('bass_tonic_share')} | "
            f"{pair('scale_consistency', '.3f')} | {pair('pc_entropy')} |"
        )
    print(f"\nAudio misses before: {_misses(before, 'audio')}; after: {_misses(after, 'audio')}")
    print(f"MIDI misses before: {_misses(before, 'midi')}; after: {_misses(after, 'midi')}")


def _run_at(rev: str, args: argparse.Namespace) -> list[dict]:
    """The same sweep with the ``src`` of git revision ``rev``, in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", rev, "src"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        out = Path(tmp) / "rows.json"
        env = dict(os.environ, PYTHONPATH=str(Path(tmp) / "src"))
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--tonics",
                str(args.tonics),
                "--seconds",
                str(args.seconds),
                "--baseline-sweep",
                str(args.baseline_sweep),
                "--json",
                str(out),
                "--quiet",
                "--expect-src",
                str(Path(tmp) / "src"),
            ],
            check=True,
            env=env,
        )
        return json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tonics", type=int, default=2, help="tonics per genre and mode")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument(
        "--baseline-sweep",
        type=int,
        default=0,
        metavar="N",
        help="instead, the first N briefs of bench_eval.py's baseline sweep (100 with --seconds 30)",
    )
    ap.add_argument(
        "--before", metavar="REV", help="also run the generator of this git revision, side by side"
    )
    ap.add_argument("--json", metavar="PATH", help="write the per-piece rows here")
    ap.add_argument("--quiet", action="store_true", help="no tables (with --json)")
    ap.add_argument("--expect-src", help=argparse.SUPPRESS)
    args = ap.parse_args()
    import weavewave

    if args.expect_src and not Path(weavewave.__file__).resolve().is_relative_to(
        Path(args.expect_src).resolve()
    ):
        raise SystemExit(f"imported {weavewave.__file__}, not the exported revision")
    before = _run_at(args.before, args) if args.before else None
    t0 = time.perf_counter()
    rows = run_sweep(args.tonics, args.seconds, args.baseline_sweep)
    print(
        f"swept {len(rows)} pieces of {args.seconds:g} s in {time.perf_counter() - t0:.0f} s", file=sys.stderr
    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    if args.quiet:
        return
    if before is not None:
        print_report(before, f"Before ({args.before})")
        print_report(rows, "After (working tree)")
        print_side_by_side(before, rows)
    else:
        print_report(rows, "Working tree")


if __name__ == "__main__":
    main()
