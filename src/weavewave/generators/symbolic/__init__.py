"""The offline default generator: compose MIDI from the brief, render it with a SoundFont, mix, master."""

from __future__ import annotations

from pathlib import Path

from weavewave.generators import ProgressFn, Track


class SymbolicGenerator:
    """Brief in, Track out, with no model weights: ``compose`` then ``render``."""

    name = "symbolic"

    def __init__(self, soundfont: str | Path | None = None, *, stems: bool = False) -> None:
        if soundfont is not None:
            from weavewave.render import find_soundfont

            find_soundfont(soundfont)  # a bad path fails now, before any work
        self.soundfont = soundfont
        self.stems = stems  # also render one stem per part (costs one synth pass per part)

    def __repr__(self) -> str:
        return f"SymbolicGenerator(soundfont={self.soundfont!r}, stems={self.stems})"

    def generate(self, brief, *, progress: ProgressFn | None = None) -> Track:  # noqa: ANN001
        from weavewave.generators.symbolic.compose import compose
        from weavewave.render import render

        report = progress or (lambda fraction, message: None)
        report(0.0, "composing")
        arrangement = compose(brief)
        report(0.1, f"rendering {len(arrangement.parts)} parts")
        mix = render(
            arrangement,
            soundfont=self.soundfont,
            stems=self.stems,
            loop=brief.loop,
            balance=True,
            progress=lambda f, m: report(0.1 + 0.85 * f, m),
        )
        report(1.0, "mastered")
        return Track(
            audio=mix.audio,
            sample_rate=mix.sample_rate,
            brief=brief,
            arrangement=arrangement,
            stems=mix.stems,
            stats=mix.stats,
        )
