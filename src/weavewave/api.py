"""The Python API: ``describe`` (inputs -> MusicBrief) and ``generate`` (inputs -> Track).

The CLI, and later the HTTP API and web UI, are thin layers over these two functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from weavewave.bridge import Controls, apply_controls, fuse
from weavewave.brief import MusicBrief
from weavewave.errors import BadInputError
from weavewave.generators import ProgressFn, Track, get_generator


def _controls(duration: float | None, tempo: float | None, key: str | None, meter: str | None,
              genre: str | None, instruments: str | Sequence[str] | None, seed: int | None) -> Controls:
    if isinstance(instruments, str):
        instruments = [i for i in (s.strip() for s in instruments.split(",")) if i]
        if not instruments:
            raise BadInputError("--instruments is empty: name at least one, e.g. 'piano, strings'")
    return Controls(duration=duration, tempo=tempo, key=key, meter=meter, genre=genre,
                    instruments=list(instruments) if instruments is not None else None,
                    seed=seed).validated()


def describe(
    text: str | None = None,
    image: str | Path | Sequence[str | Path] | None = None,
    *,
    brief: MusicBrief | dict[str, Any] | str | Path | None = None,
    duration: float | None = None,
    tempo: float | None = None,
    key: str | None = None,
    meter: str | None = None,
    genre: str | None = None,
    instruments: str | Sequence[str] | None = None,
    seed: int | None = None,
    semantic: bool | None = None,
    progress: ProgressFn | None = None,
) -> MusicBrief:
    """Understand the inputs and return the MusicBrief the music will be made from. No audio is made.

    Parameters
    ----------
    text: a prompt, a scene description or a whole story.
    image: one or more image paths.
    brief: a brief (object, dict, or path to brief.json) to reuse; controls then vary it.
    duration, tempo, key, meter, genre, instruments, seed: explicit controls; they always win.
    semantic: use the MiniLM sentence model for text (None: when installed).
    """
    controls = _controls(duration, tempo, key, meter, genre, instruments, seed)
    report = progress or (lambda fraction, message: None)
    images = [image] if isinstance(image, str | Path) else list(image or [])
    if brief is not None:
        if text or images:
            raise BadInputError("pass either a brief or text/image inputs, not both: a brief already holds "
                                "what the inputs said")
        if isinstance(brief, MusicBrief):
            loaded = brief
        elif isinstance(brief, dict):
            loaded = MusicBrief.from_dict(brief)
        else:
            loaded = MusicBrief.load(brief)
        return apply_controls(loaded, controls)
    if text is not None and not text.strip():
        text = None
    if text is None and not images:
        raise BadInputError("nothing to make music from: give a non-empty --text, an --image or a --brief")

    perceptions = []
    if text is not None:
        from weavewave.perceive.text import perceive_text

        report(0.1, "reading the text")
        perceptions.append(perceive_text(text, semantic=semantic))
    for i, path in enumerate(images):
        from weavewave.perceive.image import perceive_image

        report(0.5 + 0.4 * i / len(images), f"looking at {Path(path).name}")
        perceptions.append(perceive_image(path))
    report(0.95, "writing the brief")
    return fuse(perceptions, controls)


def generate(
    text: str | None = None,
    image: str | Path | Sequence[str | Path] | None = None,
    *,
    brief: MusicBrief | dict[str, Any] | str | Path | None = None,
    duration: float | None = None,
    tempo: float | None = None,
    key: str | None = None,
    meter: str | None = None,
    genre: str | None = None,
    instruments: str | Sequence[str] | None = None,
    seed: int | None = None,
    backend: str = "symbolic",
    soundfont: str | Path | None = None,
    stems: bool = False,
    semantic: bool | None = None,
    progress: ProgressFn | None = None,
) -> Track:
    """Make a finished piece from the inputs. Takes the same inputs and controls as :func:`describe`.

    ``stems=True`` also renders one stem per part into ``Track.stems``. Returns a
    :class:`~weavewave.generators.Track`; save it with :func:`weavewave.export.save_track`.
    """
    report = progress or (lambda fraction, message: None)
    options: dict[str, Any] = {"soundfont": soundfont, "stems": stems} if backend == "symbolic" else {}
    generator = get_generator(backend, **options)
    the_brief = describe(text, image, brief=brief, duration=duration, tempo=tempo, key=key, meter=meter,
                         genre=genre, instruments=instruments, seed=seed, semantic=semantic,
                         progress=lambda f, m: report(0.1 * f, m))
    return generator.generate(the_brief, progress=lambda f, m: report(0.1 + 0.9 * f, m))
