"""The Python API: ``describe`` (a request -> MusicBrief) and ``generate`` (a request -> Track).

The CLI, the HTTP API and the page build a :class:`~weavewave.request.Request` and call these two
functions, so the same request makes the same music whichever face it came through. Keyword arguments are
the request's fields: ``generate(text="calm piano", tempo=72)`` is ``generate(Request.build(text=...))``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from weavewave import bridge
from weavewave.brief import DEFAULT_REFERENCE_MODE, MusicBrief
from weavewave.generators import ProgressFn, Track, get_generator
from weavewave.perceive import perceive_request
from weavewave.request import Request

__all__ = ["describe", "generate", "save", "Request"]


def _request(request: Request | str | None, image: Any, fields: dict[str, Any]) -> Request:
    """The checked request: given whole, or built from keyword fields (``text`` and ``image`` may be
    positional, as ``describe("calm piano")``)."""
    if isinstance(request, Request):
        if image is not None or fields:
            raise TypeError("pass either a Request or its fields as keywords, not both")
        return request.checked()
    positional = {"text": request, "image": image}
    return Request.build(fields, **{k: v for k, v in positional.items() if v is not None})


def describe(
    request: Request | str | None = None,
    image: Any = None,
    *,
    progress: ProgressFn | None = None,
    cache: Any = None,
    **fields: Any,
) -> MusicBrief:
    """Understand the inputs and return the MusicBrief the music will be made from. No audio is made.

    ``request`` is a :class:`~weavewave.request.Request`, or give its fields as keywords (``text`` and
    ``image`` may also be positional): the inputs (``text``, ``image``, ``video``, ``audio``, ``brief``),
    the controls that always win (``duration``, ``tempo``, ``key``, ``meter``, ``genre``, ``instruments``,
    ``seed``, ``loop``), restyling (``instruction``, ``reference_mode``) and how to read (``text_model``,
    ``describer``, ``refiner`` and their models, ``device``, ``dtype``). See ``weavewave describe --help``.
    ``cache`` is a :class:`~weavewave.neural.models.ModelCache` to share loaded models.
    """
    req = _request(request, image, fields)
    req.check_resources()
    return _describe(req, progress or (lambda fraction, message: None), cache)


def _describe(req: Request, report: ProgressFn, cache: Any) -> MusicBrief:
    """Perceive the request's inputs and hand them to the bridge (a loaded brief is varied instead)."""
    refiner = bridge.refiner_for(req.refiner, model=req.refiner_model, device=req.device, dtype=req.dtype,
                                 cache=cache)  # fmt: skip
    if req.brief is not None:
        if req.video is not None:
            from weavewave.io.video import probe_video

            # A brief already scored to this video: the video is only needed for video.mp4.
            probe_video(req.video)
        return bridge.vary(req.brief, req, loop=req.loop, instruction=req.instruction, refiner=refiner,
                           report=report, references=_hand_references(req.brief))  # fmt: skip
    perceptions = perceive_request(req, report=report, cache=cache)
    mode = req.reference_mode or DEFAULT_REFERENCE_MODE
    references: list[Any] = []
    if req.uses_library():
        from weavewave.library.references import pick_references

        report(0.85, "choosing references from your library")
        # The inputs' own brief is the broad query; the references then lend to the brief built again.
        first = bridge.build(perceptions, req, reference_mode=mode)
        references = pick_references(req, first)
    return bridge.build(perceptions, req, reference_mode=mode, loop=req.loop, instruction=req.instruction,
                        refiner=refiner, report=report, references=references)  # fmt: skip


def _hand_references(data: dict[str, Any]) -> list[Any]:
    """References added to a brief.json by hand (``lent`` empty), analysed so they lend; [] when none."""
    if not any(not r.get("lent") for r in data.get("references") or []):
        return []
    from weavewave.library.references import hand_references

    return hand_references(MusicBrief.from_dict(data))


def generate(
    request: Request | str | None = None,
    image: Any = None,
    *,
    progress: ProgressFn | None = None,
    cache: Any = None,
    **fields: Any,
) -> Track:
    """Make a finished piece from a request. Takes the same request (or keyword fields) as :func:`describe`.

    Generation fields: ``backend`` (``symbolic`` or ``musicgen``), ``stems`` (one stem per part into
    ``Track.stems``), ``soundfont``, ``format`` (used by :func:`save`), ``keep_audio`` (with ``video``),
    ``candidates`` and ``rerank`` (make N candidates with derived seeds and keep the best; see
    :mod:`weavewave.evaluate.rerank`), and MusicGen's ``model``, ``adapter`` (a LoRA folder made by
    ``weavewave train musicgen``), ``steer``, ``melody``, ``top_k``, ``top_p``, ``temperature``,
    ``guidance``, ``window``, ``prompt_seconds`` and ``decoder``. Save the track with
    :func:`save`, which writes every file the request asked for, including ``video.mp4`` for a video.
    """
    req = _request(request, image, fields)
    req.check_resources()
    report = progress or (lambda fraction, message: None)
    if (
        req.uses_library()
        and req.backend == "musicgen"
        and req.musicgen_melody() is None
        and req.steer == "none"
    ):
        # The first reference conditions MusicGen (its melody with MusicGen-Melody, the default model
        # then, or an excerpt to continue; ``reference_as``): the brief (and its references) first.
        the_brief = _describe(req, lambda f, m: report(0.1 * f, m), cache)
        generator = _generator(req, cache, reference_model=bool(the_brief.references))
    else:
        generator = _generator(req, cache)
        the_brief = _describe(req, lambda f, m: report(0.1 * f, m), cache)
    if req.candidates > 1:
        from weavewave.evaluate.rerank import generate_best

        assert req.rerank is not None  # the request checks that candidates come with a metric
        track = generate_best(generator, the_brief, candidates=req.candidates, rerank=req.rerank,
                              progress=lambda f, m: report(0.1 + 0.9 * f, m))  # fmt: skip
    else:
        track = generator.generate(the_brief, progress=lambda f, m: report(0.1 + 0.9 * f, m))
    return track


def _generator(req: Request, cache: Any, reference_model: bool = False) -> Any:
    """The request's generator; for a brief that records the generator that made it (and no backend
    asked for), that generator with its recorded options, so ``generate --brief`` makes the piece again."""
    from weavewave.generators import generator_from_brief

    record = (req.brief or {}).get("generator")
    if record and "backend" not in req.model_fields_set:
        given = req.generator_options(only_given=True)
        if record.get("backend") in ("musicgen", "flow"):
            given["cache"] = cache
        return generator_from_brief(MusicBrief.from_dict(req.brief), None, **given)
    options = req.generator_options()
    if req.backend in ("musicgen", "flow"):
        options["cache"] = cache
        if reference_model and options.get("model") is None and req.reference_as in ("auto", "melody"):
            from weavewave.neural.models import DEFAULT_MELODY_MODEL

            options["model"] = DEFAULT_MELODY_MODEL
    return get_generator(req.backend, **options)


def save(track: Track, request: Request, out: str | Path, *, force: bool = False) -> list[Path]:
    """Write the files ``request`` asked for into ``out``: ``music.<format>``, ``music.mid`` (when the
    backend makes MIDI), ``brief.json``, ``stems/`` and ``video.mp4``. Nothing is overwritten unless ``force``."""
    from weavewave.export.track import save_track

    return save_track(track, out, fmt=request.format, stems=request.stems, video=request.video,
                      keep_audio=request.keep_audio, force=force)  # fmt: skip
