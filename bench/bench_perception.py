"""Validation of the audio perceiver on material with known answers.

    .venv/bin/python bench/bench_perception.py [--chorales 60] [--skip 45]

- Key: Bach chorales from music21's corpus rendered through weavewave's renderer, against the score's key
  (key signature, mode by the final bass note; chorales with modal endings are left out). MIREX weighted
  score (1 same key, 0.5 fifth, 0.3 relative, 0.2 parallel).
- Tempo: click tracks at 60-180 BPM, and the rendered chorales at known tempi: Acc1 (within 4 %) and Acc2
  (also at double, half, triple or a third).
- Smoke: music21's real recording ``audioSearch/test_audio.wav``.
- Recognisability: melodic similarity (docs/PERCEPTION.md) between the transcribed reference and the
  restyled lead line, for each reference mode.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

CHORALE_TEMPI = (66, 76, 88, 96, 108, 120, 132)


def key_and_tempo(n_chorales: int, skip: int) -> None:
    from music21 import corpus

    from reference_audio import bach_chorale_paths, chorale_arrangement, chorale_reference_key
    from weavewave.generators.symbolic.render import render
    from weavewave.music.analysis import mirex_key_score, tempo_matches
    from weavewave.perceive.audio import analyse_audio

    scores, acc1, acc2, modal, meters = [], [], [], 0, []
    counts = {1.0: 0, 0.5: 0, 0.3: 0, 0.2: 0, 0.0: 0}
    for path in bach_chorale_paths(skip + 10 * n_chorales)[skip:]:
        if len(scores) == n_chorales:
            break
        score = corpus.parse(str(path))
        ref = chorale_reference_key(score)
        if ref is None:
            modal += 1
            continue
        tempo = CHORALE_TEMPI[len(scores) % len(CHORALE_TEMPI)]
        mix = render(chorale_arrangement(score, tempo=tempo), workers=1)
        a = analyse_audio(mix.audio.mean(axis=1), mix.sample_rate, transcribe=False)
        s = mirex_key_score((a.key_tonic, a.key_mode), ref)
        scores.append(s)
        counts[s] += 1
        meters.append(a.meter)
        acc1.append(tempo_matches(a.tempo_bpm, tempo))
        acc2.append(tempo_matches(a.tempo_bpm, tempo, allow_octave=True))
    print(
        f"key, {len(scores)} chorales after the first {skip} ({modal} modal endings skipped): MIREX weighted score "
        f"{statistics.mean(scores):.3f}; same {counts[1.0]}, fifth {counts[0.5]}, relative {counts[0.3]}, "
        f"parallel {counts[0.2]}, other {counts[0.0]}"
    )
    print(
        f"tempo, rendered chorales at {CHORALE_TEMPI} BPM: Acc1 {statistics.mean(acc1):.2f}, "
        f"Acc2 {statistics.mean(acc2):.2f}"
    )
    print(
        f"meter, chorales (all 4/4): 4/4 {meters.count('4/4')}, 3/4 {meters.count('3/4')}, "
        f"not inferred {meters.count(None)}"
    )


def clicks() -> None:
    from reference_audio import click_track
    from weavewave.music.analysis import tempo_matches
    from weavewave.perceive.audio import analyse_audio

    tempi = list(range(60, 181, 10))
    got = [analyse_audio(click_track(t, 20.0), 22050, transcribe=False).tempo_bpm for t in tempi]
    a1 = statistics.mean(tempo_matches(g, t) for g, t in zip(got, tempi, strict=True))
    a2 = statistics.mean(tempo_matches(g, t, allow_octave=True) for g, t in zip(got, tempi, strict=True))
    print(
        f"tempo, click tracks at {tempi[0]}-{tempi[-1]} BPM ({len(tempi)}): Acc1 {a1:.2f}, Acc2 {a2:.2f}; "
        + ", ".join(f"{t}->{g:.1f}" for t, g in zip(tempi, got, strict=True))
    )


def smoke() -> None:
    import music21

    from weavewave.perceive.audio import perceive_audio

    path = pathlib.Path(music21.__file__).parent / "audioSearch" / "test_audio.wav"
    t0 = time.perf_counter()
    p = perceive_audio(path)
    print(f"smoke, music21 test_audio.wav: {p.observation.summary} ({time.perf_counter() - t0:.2f} s)")


def recognisability(tmp: Path) -> None:
    from reference_audio import melody_pitches, render_to_wav, tune_arrangement
    from weavewave import api
    from weavewave.generators.symbolic.compose import compose
    from weavewave.music.melodic import melodic_similarity, skyline
    from weavewave.perceive.audio import perceive_audio

    wav = render_to_wav(tune_arrangement(tempo=100.0), tmp / "tune.wav")
    heard = [p for *_, p in perceive_audio(wav).analysis.melody_s]
    print(
        f"transcription of Ode to Joy vs the score: similarity {melodic_similarity(heard, melody_pitches()):.3f}"
    )
    print("| instruction | melody | harmony | style |")
    print("|---|---:|---:|---:|")
    for instruction in (
        "as a gentle lullaby on music box",
        "as jazz",
        "more energetic rock",
        "christmas carol",
    ):
        sims = []
        for mode in ("melody", "harmony", "style"):
            brief = api.describe(audio=wav, instruction=instruction, reference_mode=mode)
            lead = next(p for p in compose(brief).parts if p.role == "melody")
            line = skyline([(n.start, n.end, n.pitch) for n in lead.notes])
            sims.append(melodic_similarity(heard, [p for *_, p in line]))
        print(f"| {instruction} | " + " | ".join(f"{s:.3f}" for s in sims) + " |")


def chords(tmp: Path) -> None:
    """Chord roots per beat on the rendered Ode to Joy (one C or G triad per bar) against the score."""
    from reference_audio import ODE_CHORDS, render_to_wav, tune_arrangement
    from weavewave.io.audio import load_audio
    from weavewave.perceive.audio import analyse_audio

    tempo = 100.0
    mono, sr = load_audio(render_to_wav(tune_arrangement(tempo=tempo), tmp / "ode.wav"))
    a = analyse_audio(mono, sr, transcribe=False)
    bar_s, right, total = 4 * 60.0 / tempo, 0, 0
    for start, dur, symbol in a.chords:
        for q in range(int(start), int(start + dur)):
            t = float(a.beat_times[min(q, len(a.beat_times) - 1)])
            bar = int((t + 0.05) // bar_s)
            if bar < len(ODE_CHORDS):
                truth = "C" if ODE_CHORDS[bar][0] == 0 else "G"
                right += symbol.split(":")[0] == truth
                total += 1
    print(
        f"chords, rendered Ode to Joy (C/G per bar): root right on {right / total:.2f} of {total} beats, "
        f"{len(a.chords)} chord changes for 16 bars"
    )


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chorales", type=int, default=60)
    parser.add_argument(
        "--skip",
        type=int,
        default=45,
        help="leave out the first chorales (the 45 the key profile was chosen on)",
    )
    parser.add_argument("--only", choices=("smoke", "clicks", "key", "chords", "modes"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-perception-"))
    if args.only:
        {
            "smoke": smoke,
            "clicks": clicks,
            "key": lambda: key_and_tempo(args.chorales, args.skip),
            "chords": lambda: chords(tmp),
            "modes": lambda: recognisability(tmp),
        }[args.only]()
        return
    smoke()
    clicks()
    key_and_tempo(args.chorales, args.skip)
    chords(tmp)
    recognisability(tmp)


if __name__ == "__main__":
    main()
