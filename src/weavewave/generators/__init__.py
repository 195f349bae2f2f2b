"""Generators share one small interface: brief in, Track out. A generator never parses inputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from weavewave.errors import BadInputError

if TYPE_CHECKING:
    import numpy as np

    from weavewave.arrangement import Arrangement
    from weavewave.brief import MusicBrief

# progress(fraction 0..1, message)
ProgressFn = Callable[[float, str], None]


@dataclass
class Track:
    """A finished piece.

    Attributes
    ----------
    audio: np.ndarray [shape=(n_samples, 2), dtype=float32], the mastered stereo mix.
    sample_rate: samples per second.
    brief: the brief it was made from.
    arrangement: the symbolic score, when the generator has one (gives ``music.mid``).
    stems: part name -> np.ndarray [shape=(n_samples, 2)], summing to ``audio``.
    stats: measured facts about the master (loudness, true peak, duration).
    video_path, keep_audio: the video the piece was scored to, and whether its sound is kept (``video.mp4``).
    """

    audio: np.ndarray
    sample_rate: int
    brief: MusicBrief
    arrangement: Arrangement | None = None
    stems: dict[str, np.ndarray] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    # Scoring to picture: the source video ``save_track`` writes ``video.mp4`` from, and whether its own
    # sound is mixed in (ducked under the music's level where it speaks).
    video_path: str | None = None
    keep_audio: bool = False

    @property
    def duration_s(self) -> float:
        return self.audio.shape[0] / self.sample_rate

    def __repr__(self) -> str:
        return (
            f"Track({self.duration_s:.2f} s @ {self.sample_rate} Hz, {len(self.stems)} stems, "
            f"{self.brief.genre}, {self.brief.key}, {self.brief.tempo_bpm:g} BPM)"
        )


class Generator(Protocol):
    """Brief in, Track out."""

    name: str

    def generate(self, brief: MusicBrief, *, progress: ProgressFn | None = None) -> Track: ...


def get_generator(backend: str, **options: Any) -> Generator:
    """The generator for a backend name. ``symbolic`` ships in the base install; ``musicgen`` needs the
    ``neural`` extra (torch and transformers), imported only when it is used."""
    if backend == "symbolic":
        from weavewave.generators.symbolic import SymbolicGenerator

        return SymbolicGenerator(**options)
    if backend == "musicgen":
        from weavewave.generators.musicgen import MusicgenGenerator

        return MusicgenGenerator(**options)
    raise BadInputError(f"unknown backend {backend!r}: use {' or '.join(repr(b) for b in BACKENDS)}")


BACKENDS = ("symbolic", "musicgen")
