"""The offline default generator: compose MIDI from the brief, render it with a SoundFont, mix, master."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from weavewave.errors import BadInputError
from weavewave.generators import ProgressFn, Track
from weavewave.generators.contract import Capabilities, GeneratorOptions, check_brief, record_generator

if TYPE_CHECKING:
    from weavewave.brief import GeneratorRecord, MusicBrief


class SymbolicOptions(GeneratorOptions):
    """Options of the ``symbolic`` backend."""

    soundfont: str | Path | None = Field(None, description="General MIDI .sf2 file (default: see SOUNDFONTS)")
    stems: bool = Field(False, description="also render one stem per part (one synth pass per part)")
    effects: bool = Field(True, description="the genre's per-part effects (lo-fi dust, halls, build sweeps)")


class SymbolicGenerator:
    """Brief in, Track out, with no model weights: ``compose`` then ``render``."""

    name = "symbolic"
    # A score is written, so everything a brief can ask for is honoured; melody conditioning is MusicGen's
    # (a reference tune is kept in the brief with --audio instead).
    capabilities: ClassVar[Capabilities] = Capabilities(
        midi=True, stems=True, loop=True, timeline=True, melody=False, reference=True
    )
    Options = SymbolicOptions

    def __init__(
        self, soundfont: str | Path | None = None, *, stems: bool = False, effects: bool = True
    ) -> None:
        if soundfont is not None:
            from weavewave.generators.symbolic.soundfont import find_soundfont

            find_soundfont(soundfont)  # a bad path fails now, before any work
        self.soundfont = soundfont
        self.stems = stems  # also render one stem per part (costs one synth pass per part)
        self.effects = effects  # the genre's per-part effects (effects.GENRE_EFFECTS)

    def __repr__(self) -> str:
        return f"SymbolicGenerator(soundfont={self.soundfont!r}, stems={self.stems}, effects={self.effects})"

    def generate(self, brief: MusicBrief, *, progress: ProgressFn | None = None) -> Track:
        from weavewave.generators.symbolic.compose import compose
        from weavewave.generators.symbolic.effects import plan_effects
        from weavewave.generators.symbolic.render import render

        check_brief(brief, self.capabilities, backend=self.name)
        report = progress or (lambda fraction, message: None)
        report(0.0, "composing")
        arrangement = compose(brief)
        report(0.1, f"rendering {len(arrangement.parts)} parts")
        fx = plan_effects(arrangement, brief.genre) if self.effects else None
        mix = render(
            fx.arrangement if fx else arrangement,
            effects=fx.effects if fx else None,
            effect_groups=fx.groups if fx else (),
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
            brief=record_generator(brief, self.name, {"soundfont": mix.stats["soundfont"]}),
            arrangement=arrangement,
            stems=mix.stems,
            stats=mix.stats,
        )

    @staticmethod
    def options_from_record(record: GeneratorRecord, given: dict[str, Any]) -> dict[str, Any]:
        """Options that render a recorded brief again: the SoundFont is recorded by name, and found by
        that name where weavewave looks for SoundFonts (a font given explicitly wins)."""
        options = {k: v for k, v in record.options.items() if k != "soundfont"}
        name = record.options.get("soundfont")
        if "soundfont" not in given and isinstance(name, str):
            options["soundfont"] = soundfont_named(name)
        return {**options, **given}


def soundfont_named(name: str) -> str | None:
    """The path of the SoundFont called ``name`` where weavewave looks for one (``None``: the default is
    that font). Refused with one line when it is not on this machine: another font changes the sound."""
    import importlib.util

    from weavewave.generators.symbolic.soundfont import BUNDLED_SOUNDFONT, SYSTEM_SOUNDFONTS, find_soundfont

    if find_soundfont().name == name:
        return None
    places = [Path(p) for p in SYSTEM_SOUNDFONTS]
    spec = importlib.util.find_spec("pretty_midi")
    if spec is not None and spec.origin is not None:
        places.append(Path(spec.origin).parent / BUNDLED_SOUNDFONT)
    for p in places:
        if p.name == name and p.is_file():
            return str(p)
    raise BadInputError(
        f"this brief was rendered with the SoundFont {name}, which is not on this machine: pass it with "
        "--soundfont FILE.sf2 (another font plays the same notes with other sounds)"
    )
