"""The generator contract: what a backend can honour, its options, and the one-line refusals.

Kept apart from the registry (``weavewave.generators``) so a generator module can import it without
import cycles. Nothing here imports torch, transformers or a synthesizer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from weavewave.errors import BadInputError

if TYPE_CHECKING:
    from weavewave.brief import FileDigest, MusicBrief

# Reading a melody file to hash it: a block size that keeps memory flat for long recordings.
_HASH_BLOCK_BYTES = 1 << 20


@dataclass(frozen=True)
class Capabilities:
    """What a generator honours. Anything a brief or an option asks for beyond these is refused.

    Attributes
    ----------
    midi : the Track carries the score (``Track.arrangement``), so ``music.mid`` is written; exactly then.
    stems : ``stems=True`` renders one stem per part, and the stems sum to the mix.
    loop : a ``loop`` brief becomes a seamless loop (no fades; the end flows into the start).
    timeline : a video's timeline is followed: sections change at the brief's ``cues`` and the tempo
        bends by its ``warp``.
    melody : the ``melody`` option (a recording) conditions the music, and another melody changes it.
    reference : the tune or chords kept from a reference (``brief.reference``, modes ``melody`` and
        ``harmony``) are replayed; a ``style`` reference (tempo and feel only) needs nothing.
    """

    midi: bool = False
    stems: bool = False
    loop: bool = False
    timeline: bool = False
    melody: bool = False
    reference: bool = False

    def __repr__(self) -> str:
        on = [f.name for f in fields(self) if getattr(self, f.name)]
        return f"Capabilities({', '.join(on) or 'audio only'})"


# What a backend without each capability is told, and how to drop the request.
CANNOT = {
    "midi": "writes no MIDI",
    "stems": "makes one mixed track and no stems",
    "loop": "cannot make a seamless loop",
    "timeline": "cannot follow a video's cuts and tempo map (the brief's cues and warp)",
    "melody": "cannot condition on a melody recording",
    "reference": "cannot replay the tune or chords kept from a reference",
}
HOW_TO_DROP = {
    "stems": "drop --stems",
    "loop": "drop --loop (or set loop to false in the brief)",
    "timeline": "remove cues and warp from the brief",
    "melody": "drop --melody",
    "reference": "restyle with --reference-mode style",
}


class GeneratorOptions(BaseModel):
    """Base of a generator's ``Options``: its constructor options, typed, with defaults.

    A field's ``serialization_alias`` names the constructor keyword when it differs from the public name
    (``guidance`` -> ``guidance_scale``); ``validation_alias`` accepts both names.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, populate_by_name=True)

    def kwargs(self) -> dict[str, Any]:
        """The constructor's keyword arguments for the options that were given (objects passed as is)."""
        out = {}
        for name, f in type(self).model_fields.items():
            if name in self.model_fields_set:
                out[f.serialization_alias or name] = getattr(self, name)
        return out


def _alternatives(capability: str, but: str) -> str:
    """``--backend X`` for the registered backends that have ``capability`` (other than ``but``)."""
    from weavewave.generators import BACKENDS, capabilities_of

    names = [b for b in BACKENDS if b != but and getattr(capabilities_of(b), capability)]
    return "use " + " or ".join(f"--backend {b}" for b in names) if names else ""


def refusal(backend: str, capability: str, hint: str | None = None) -> BadInputError:
    """The one-line refusal of ``capability`` by ``backend``: what it cannot do, and what to do instead."""
    ways = [w for w in (hint, HOW_TO_DROP.get(capability), _alternatives(capability, backend)) if w]
    return BadInputError(f"the {backend} backend {CANNOT[capability]}: {', or '.join(ways)}")


def check_options(backend: str, cls: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``options`` against ``cls.Options`` and return the constructor's keyword arguments.

    ``stems`` and ``melody`` are contract options every backend is asked about: a backend without the
    capability refuses a true value with one line and ignores a false or empty one.
    """
    caps: Capabilities = cls.capabilities
    opts = dict(options)
    for capability in ("stems", "melody"):
        if capability in opts and not getattr(caps, capability):
            if opts.pop(capability):
                raise refusal(backend, capability)
    try:
        validated = cls.Options.model_validate(opts)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"]) or "options"
        if err["type"] == "extra_forbidden":
            known = ", ".join(cls.Options.model_fields)
            raise BadInputError(
                f"the {backend} backend has no option {name!r}: its options are {known}"
            ) from None
        raise BadInputError(f"{backend} option {name!r}: {err['msg']}") from None
    return validated.kwargs()


def check_brief(
    brief: MusicBrief,
    capabilities: Capabilities,
    *,
    backend: str,
    hints: Mapping[str, str] | None = None,
) -> None:
    """Refuse, with one line, a brief ``capabilities`` cannot honour. Call it before any work.

    ``hints`` (capability -> text) says what to do instead with this backend's own options.
    """
    hints = hints or {}
    if brief.loop and not capabilities.loop:
        raise refusal(backend, "loop", hints.get("loop"))
    if (brief.cues or brief.warp) and not capabilities.timeline:
        raise refusal(backend, "timeline", hints.get("timeline"))
    ref = brief.reference
    if ref is not None and ref.mode != "style" and not capabilities.reference:
        hint = hints.get("reference")
        raise refusal(backend, "reference", hint.format(source=ref.source) if hint else None)


def file_digest(path: str | Path) -> FileDigest:
    """A file by name and content hash (sha256 of its bytes), as a brief records it."""
    from weavewave.brief import FileDigest

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK_BYTES):
            h.update(block)
    return FileDigest(name=Path(path).name, sha256=h.hexdigest())


def record_generator(
    brief: MusicBrief,
    backend: str,
    options: Mapping[str, Any],
    files: Mapping[str, FileDigest] | None = None,
) -> MusicBrief:
    """A copy of ``brief`` recording the generator that made it (``brief.generator``).

    ``options`` are the ``Options`` fields that change the sound (by their public names), so
    :func:`generator_from_brief` can make the piece again; ``files`` are inputs recorded by content hash.
    """
    from weavewave.brief import GeneratorRecord

    record = GeneratorRecord(backend=backend, options=dict(options), files=dict(files or {}))
    return brief.model_copy(update={"generator": record})


def generator_from_brief(brief: MusicBrief, backend: str | None = None, **overrides: Any) -> Any:
    """The generator that makes ``brief`` again: the one its ``generator`` record names, with the
    recorded options, unless ``backend`` names another one.

    ``overrides`` (``None`` values ignored) win over the record. A recorded input file (MusicGen's melody)
    must be given again (see :func:`check_recorded_file`). A brief
    without a record (made before briefs recorded their generator) gets ``backend`` or the default.
    """
    from weavewave.generators import BACKENDS, generator_class, get_generator

    given = {k: v for k, v in overrides.items() if v is not None}
    record = brief.generator
    if record is None or (backend is not None and backend != record.backend):
        return get_generator(backend or BACKENDS[0], **given)
    cls = generator_class(record.backend)
    replay = getattr(cls, "options_from_record", None)
    options = replay(record, given) if replay else {**record.options, **given}
    return get_generator(record.backend, **options)


def check_recorded_file(record_files: Mapping[str, FileDigest], option: str, given: Any, flag: str) -> None:
    """A file the record names (by hash) must be given again: without it the piece would differ. A file
    given explicitly wins, as every explicit choice does (its own hash is recorded on the new piece)."""
    want = record_files.get(option)
    if want is not None and given is None:
        raise BadInputError(
            f"this brief was made with the {option} {want.name} (sha256 {want.sha256[:12]}…): "
            f"pass it again with {flag} {want.name}, or drop the brief's generator record to go without"
        )
