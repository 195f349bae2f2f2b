"""Harmony of a restyle whose reference has no trustworthy chords: music21's real recording
(``audioSearch/test_audio.wav``, a single line playing a C-major scale and arpeggio) restyled with an instruction.

Prints, per reference mode kept (melody, harmony): the chords kept, MIDI scale consistency in the asked
key (weavewave.evaluate's metric), the key heard in the rendered audio and its MIREX score, and the melodic
similarity of the kept tune to the transcription. Run it on any checkout to compare before and after.

Usage: .venv/bin/python bench/bench_restyle_harmony.py [--instruction TEXT]
"""

from __future__ import annotations

import argparse
import pathlib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instruction", default="as a gentle lullaby on music box")
    args = parser.parse_args()
    import music21

    from weavewave import api
    from weavewave.evaluate.adherence import key_name
    from weavewave.evaluate.symbolic import scale_consistency
    from weavewave.generators.symbolic.compose import compose
    from weavewave.generators.symbolic.render import render
    from weavewave.music.analysis import estimate_key, mirex_key_score, reference_key
    from weavewave.music.melodic import melodic_similarity
    from weavewave.perceive.audio import perceive_audio

    path = pathlib.Path(music21.__file__).parent / "audioSearch" / "test_audio.wav"
    a = perceive_audio(path).analysis
    print(
        f"reference: {a.key}, {a.tempo_bpm:g} BPM, {len(a.melody_s)} transcribed notes, {len(a.melody)} kept"
    )
    harmony = getattr(a, "harmony", None)
    print(f"harmony: {harmony.reason if harmony else 'no confidence measured'}")
    print(f"detected chords: {' '.join(c[2] for c in getattr(a, 'detected_chords', a.chords))}")
    sim = melodic_similarity([p for *_, p in a.melody_s], [n[2] for n in a.melody])
    print(f"kept tune vs transcription: melodic similarity {sim:.3f}")
    for mode in ("melody", "harmony"):
        brief = api.describe(audio=path, instruction=args.instruction, reference_mode=mode)
        arrangement = compose(brief)
        scale = scale_consistency(arrangement.to_pretty_midi(), brief.key.tonic, brief.key.mode)
        mix = render(arrangement, workers=1)
        mono = mix.audio.mean(axis=1) if mix.audio.ndim == 2 else mix.audio
        tonic, kmode, _ = estimate_key(mono, mix.sample_rate)
        mirex = mirex_key_score((tonic, kmode), reference_key(brief.key.tonic, brief.key.mode))
        chords = " ".join(c[2] for c in brief.reference.chords)
        print(
            f"{mode:8s} asked {brief.key}: scale consistency {scale:.3f}, heard {key_name(tonic, kmode)} "
            f"(MIREX {mirex:.1f}); chords kept: {chords}"
        )


if __name__ == "__main__":
    main()
