"""Generators share one small interface: brief in, Track out. A generator never parses inputs.

The contract every backend keeps (see docs/ARCHITECTURE.md, "Generator contract"):

- it declares what it can honour as :class:`Capabilities` (a class attribute, narrowed per instance when
  its options change what it makes) and its constructor options as a pydantic ``Options`` model;
- it is registered by name with :func:`register_generator` (one line, below or in its own module) and
  built with :func:`get_generator`, which validates the options and refuses what it cannot honour;
- before any work its ``generate`` calls :func:`check_brief`: a brief it cannot honour (a loop, a
  video's cues and tempo map, a kept reference tune) is refused with one line, never silently dropped;
- the Track it returns holds only the piece, and its brief records the generator
  (:class:`~weavewave.brief.GeneratorRecord`), so :func:`generator_from_brief` can make it again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from weavewave.errors import BadInputError
from weavewave.generators.contract import (
    Capabilities,
    GeneratorOptions,
    check_brief,
    check_options,
    file_digest,
    generator_from_brief,
    record_generator,
)

if TYPE_CHECKING:
    import numpy as np

    from weavewave.brief import MusicBrief
    from weavewave.music.arrangement import Arrangement

__all__ = [
    "BACKENDS",
    "Capabilities",
    "Generator",
    "GeneratorOptions",
    "ProgressFn",
    "Track",
    "capabilities_of",
    "check_brief",
    "check_options",
    "file_digest",
    "generator_class",
    "generator_from_brief",
    "get_generator",
    "record_generator",
    "register_generator",
    "unregister_generator",
]

# progress(fraction 0..1, message)
ProgressFn = Callable[[float, str], None]


@dataclass
class Track:
    """A finished piece, and only the piece (where it is written, and with which video, is
    :func:`weavewave.export.track.save_track`'s business).

    Attributes
    ----------
    audio: np.ndarray [shape=(n_samples, 2), dtype=float32], the mastered stereo mix.
    sample_rate: samples per second.
    brief: the brief it was made from, with ``brief.generator`` recording the generator that made it.
    arrangement: the symbolic score, when the generator has one (gives ``music.mid``).
    stems: part name -> np.ndarray [shape=(n_samples, 2)], summing to ``audio``.
    stats: measured facts about the master (loudness, true peak, duration).
    """

    audio: np.ndarray
    sample_rate: int
    brief: MusicBrief
    arrangement: Arrangement | None = None
    stems: dict[str, np.ndarray] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.audio.shape[0] / self.sample_rate

    def __repr__(self) -> str:
        return (
            f"Track({self.duration_s:.2f} s @ {self.sample_rate} Hz, {len(self.stems)} stems, "
            f"{self.brief.genre}, {self.brief.key}, {self.brief.tempo_bpm:g} BPM)"
        )


class Generator(Protocol):
    """Brief in, Track out.

    ``capabilities`` is what this generator honours (the class declares the backend's, an instance may
    narrow or widen it by its options: MusicGen steered by our composition also writes MIDI); ``Options``
    is the pydantic model of its constructor options.
    """

    name: str
    capabilities: Capabilities
    Options: ClassVar[type[GeneratorOptions]]

    def generate(self, brief: MusicBrief, *, progress: ProgressFn | None = None) -> Track: ...


# --- the registry ---------------------------------------------------------------------------------------
# name -> a loader returning the generator class; loaders import lazily, so registering musicgen imports
# neither torch nor transformers.
_REGISTRY: dict[str, Callable[[], type]] = {}


class _Names(Sequence[str]):
    """The registered backend names, in registration order (the first is the default); a live view."""

    def __getitem__(self, i: Any) -> Any:
        return tuple(_REGISTRY)[i]

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(_REGISTRY))

    def __repr__(self) -> str:
        return repr(tuple(_REGISTRY))


BACKENDS: Sequence[str] = _Names()


def register_generator(name: str, loader: Callable[[], type]) -> None:
    """Make a backend available by ``name``.

    Parameters
    ----------
    name : what ``--backend`` and ``get_generator`` take.
    loader : a callable returning the generator class (import heavy modules inside it, not before). The
        class takes its options as keyword arguments, has ``capabilities``, ``Options`` and ``generate``.
    """
    if not name or not name.isidentifier():
        raise ValueError(f"backend name {name!r} must be a plain identifier")
    _REGISTRY[name] = loader


def unregister_generator(name: str) -> None:
    """Remove a backend (tests register example generators for a while)."""
    _REGISTRY.pop(name, None)


def _lazy(module: str, cls: str) -> Callable[[], type]:
    def load() -> type:
        from importlib import import_module

        return getattr(import_module(module), cls)

    return load


def generator_class(backend: str) -> Any:
    """The class registered as ``backend``. Unknown names are refused with the choices."""
    if backend not in _REGISTRY:
        raise BadInputError(f"unknown backend {backend!r}: use {' or '.join(repr(b) for b in BACKENDS)}")
    return _REGISTRY[backend]()


def capabilities_of(backend: str) -> Capabilities:
    """What ``backend`` can honour at most, without building it (no model is loaded)."""
    return generator_class(backend).capabilities


def get_generator(backend: str, **options: Any) -> Generator:
    """The generator for a backend name, built from validated options.

    ``symbolic`` ships in the base install; ``musicgen`` needs the ``neural`` extra (torch and
    transformers), imported only when it generates. Options the backend does not take, or promises it
    cannot keep (``stems=True`` of a backend without stems, a ``melody`` of one without melody
    conditioning), are refused with one line before any work.
    """
    cls = generator_class(backend)
    return cls(**check_options(backend, cls, options))


register_generator("symbolic", _lazy("weavewave.generators.symbolic", "SymbolicGenerator"))
register_generator("musicgen", _lazy("weavewave.generators.musicgen.generator", "MusicgenGenerator"))
register_generator("flow", _lazy("weavewave.generators.flow.generator", "FlowGenerator"))
