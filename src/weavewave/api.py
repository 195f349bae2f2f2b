"""The Python API: ``describe`` (a request -> MusicBrief) and ``generate`` (a request -> Track).

The CLI, the HTTP API and the page build a :class:`~weavewave.request.Request` and call these two
functions, so the same request makes the same music whichever face it came through. Keyword arguments are
the request's fields: ``generate(text="calm piano", tempo=72)`` is ``generate(Request.build(text=...))``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from weavewave.bridge import Controls, apply_controls, fuse
from weavewave.brief import MusicBrief
from weavewave.generators import ProgressFn, Track, get_generator
from weavewave.request import DEFAULT_REFERENCE_MODE, Request

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
    ``cache`` is a :class:`~weavewave.models.ModelCache` to share loaded models.
    """
    req = _request(request, image, fields)
    req.check_resources()
    return _describe(req, progress or (lambda fraction, message: None), cache)


def _controls(req: Request) -> Controls:
    return Controls(duration=req.duration, tempo=req.tempo, key=req.key, meter=req.meter, genre=req.genre,
                    instruments=req.instruments, seed=req.seed)  # fmt: skip


def _describe(req: Request, report: ProgressFn, cache: Any) -> MusicBrief:
    """The bridge's order: perceive, fuse, keep the reference, score to the picture, loop, refine, and the
    user's controls over all."""
    controls = _controls(req)
    if req.brief is not None:
        if req.video is not None:
            from weavewave.perceive.video import probe_video

            probe_video(
                req.video
            )  # a brief already scored to this video: the video is only needed for video.mp4
        brief = apply_controls(MusicBrief.from_dict(req.brief), controls)
        if req.loop and not brief.loop:
            brief = _as_loop(brief, controls)
    else:
        perceptions = []
        if req.text is not None:
            from weavewave.perceive.text import perceive_text

            report(0.1, "reading the text")
            perceptions.append(perceive_text(req.text, semantic=req.semantic))
        for i, path in enumerate(req.image):
            from weavewave.perceive.image import perceive_image

            report(0.3 + 0.3 * i / len(req.image), f"looking at {Path(path).name}")
            perceptions.append(perceive_image(path))
        if req.video is not None:
            from weavewave.perceive.video import perceive_video

            report(0.6, f"watching {Path(req.video).name}")
            perceptions.append(perceive_video(req.video))
        if req.describer == "mllm":
            from weavewave.perceive.mllm import perceive_mllm

            report(0.7, "asking the multimodal model")
            inputs = {"video": req.video} if req.audio is None else {"audio": req.audio}
            perceptions.append(perceive_mllm(text=req.text, images=list(req.image), **inputs,
                                             model=req.describer_model, device=req.device, dtype=req.dtype,
                                             cache=cache))  # fmt: skip
        heard = None
        if req.audio is not None:
            from weavewave.perceive.audio import perceive_audio

            report(0.75, f"listening to {Path(req.audio).name}")
            heard = perceive_audio(req.audio)
            perceptions.append(heard)
        report(0.9, "writing the brief")
        brief = fuse(perceptions, controls)
        if heard is not None:
            from weavewave.perceive.audio import attach_reference

            brief = attach_reference(brief, heard, req.reference_mode or DEFAULT_REFERENCE_MODE)
        if req.video is not None:
            video = next(p for p in perceptions if p.observation.source == "video")
            brief = _score_to_picture(brief, video, controls)
        if req.loop:
            brief = _as_loop(brief, controls)
    if req.instruction:
        report(0.95, "applying the instruction")
        brief = _keep_controls(_refiner(req, cache)(brief, req.instruction), controls)
    return brief


# --- video and loops ---
def _score_to_picture(brief: MusicBrief, perception: Any, controls: Controls) -> MusicBrief:
    from weavewave.scoring import score_brief

    measurements = dict(perception.observation.measurements)
    if "tempo_range" in perception.proposals:
        measurements["tempo_range"] = perception.proposals["tempo_range"].value
    return score_brief(brief, measurements, tempo_fixed=controls.tempo is not None)


def _as_loop(brief: MusicBrief, controls: Controls) -> MusicBrief:
    from weavewave.scoring import as_loop

    return as_loop(
        brief, tempo_fixed=controls.tempo is not None, duration_fixed=controls.duration is not None
    )


# --- end video and loops ---


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
    :mod:`weavewave.evaluate.rerank`), and MusicGen's ``model``, ``steer``, ``melody``, ``top_k``, ``top_p``,
    ``temperature``, ``guidance``, ``window``, ``prompt_seconds`` and ``decoder``. Save the track with
    :func:`save`, which writes every file the request asked for, including ``video.mp4`` for a video.
    """
    req = _request(request, image, fields)
    req.check_resources()
    report = progress or (lambda fraction, message: None)
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


# Generator options that are named differently from the request field they come from.
OPTION_FIELD = {"guidance_scale": "guidance", "window_s": "window", "prompt_s": "prompt_seconds"}


def _generator(req: Request, cache: Any) -> Any:
    """The request's generator; for a brief that records the generator that made it (and no backend
    asked for), that generator with its recorded options, so ``generate --brief`` makes the piece again."""
    from weavewave.generators import generator_from_brief

    options = req.generator_options()
    record = (req.brief or {}).get("generator")
    if record and "backend" not in req.model_fields_set:
        given = {k: v for k, v in options.items() if OPTION_FIELD.get(k, k) in req.model_fields_set}
        if record.get("backend") == "musicgen":
            given["cache"] = cache
        return generator_from_brief(MusicBrief.from_dict(req.brief), None, **given)
    if req.backend == "musicgen":
        options["cache"] = cache
    return get_generator(req.backend, **options)


def save(track: Track, request: Request, out: str | Path, *, force: bool = False) -> list[Path]:
    """Write the files ``request`` asked for into ``out``: ``music.<format>``, ``music.mid`` (when the
    backend makes MIDI), ``brief.json``, ``stems/`` and ``video.mp4``. Nothing is overwritten unless ``force``."""
    from weavewave.export import save_track

    return save_track(track, out, fmt=request.format, stems=request.stems, video=request.video,
                      keep_audio=request.keep_audio, force=force)  # fmt: skip


def _keep_controls(brief: MusicBrief, controls: Controls) -> MusicBrief:
    """Explicit controls always win: a refiner never overrides them (refine skips user attributes; this
    re-applies them for refiners that do not know provenance)."""
    return (
        apply_controls(brief, controls)
        if any(
            v is not None
            for v in (controls.tempo, controls.key, controls.genre, controls.instruments, controls.meter)
        )
        else brief
    )


def _refiner(req: Request, cache: Any) -> Any:
    """``refine(brief, instruction)``: the rule-based one, or the LLM one (which falls back to the rules)."""
    if req.refiner != "llm":
        from weavewave.refine import refine

        return refine
    from weavewave.models import DEFAULT_MODEL
    from weavewave.refine_llm import refine as refine_llm

    def refine_with_llm(brief: MusicBrief, instruction: str) -> MusicBrief:
        return refine_llm(brief, instruction, model=req.refiner_model or DEFAULT_MODEL["refiner"],
                          device=req.device, dtype=req.dtype, cache=cache)  # fmt: skip

    return refine_with_llm
