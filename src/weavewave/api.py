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


def _controls(
    duration: float | None,
    tempo: float | None,
    key: str | None,
    meter: str | None,
    genre: str | None,
    instruments: str | Sequence[str] | None,
    seed: int | None,
) -> Controls:
    if isinstance(instruments, str):
        instruments = [i for i in (s.strip() for s in instruments.split(",")) if i]
        if not instruments:
            raise BadInputError("--instruments is empty: name at least one, e.g. 'piano, strings'")
    return Controls(
        duration=duration,
        tempo=tempo,
        key=key,
        meter=meter,
        genre=genre,
        instruments=list(instruments) if instruments is not None else None,
        seed=seed,
    ).validated()


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
    video: str | Path | None = None,
    keep_audio: bool = False,
    loop: bool = False,
    # --- reference tunes and instructions (audio engineer) ---
    audio: str | Path | None = None,
    instruction: str | None = None,
    reference_mode: str | None = None,
    # --- neural (describer, LLM refiner, devices, shared model cache) ---
    describer: str = "analytic",
    describer_model: str | None = None,
    refiner: str = "rules",
    refiner_model: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    cache: Any = None,
) -> MusicBrief:
    """Understand the inputs and return the MusicBrief the music will be made from. No audio is made.

    Parameters
    ----------
    text: a prompt, a scene description or a whole story.
    image: one or more image paths.
    brief: a brief (object, dict, or path to brief.json) to reuse; controls then vary it.
    duration, tempo, key, meter, genre, instruments, seed: explicit controls; they always win.
    semantic: use the MiniLM sentence model for text (None: when installed).
    video: a video to score: the music is as long as the video, its sections follow the scenes, and
        the tempo and first downbeat are chosen so the cuts land on strong beats (see ``scoring``).
    keep_audio: keep the video's own sound in ``video.mp4`` (only with ``video``; used by ``generate``).
    loop: make a seamless loop (the end leads back into the start).
    audio: a reference tune (WAV, FLAC, MP3, OGG) to restyle; its tempo, key, form and material are kept.
    instruction: what to change, e.g. "as a gentle lullaby on music box" (see :func:`weavewave.refine.refine`).
    reference_mode: how much of ``audio`` to keep: "melody" (default), "harmony" or "style".
    describer: ``analytic`` (the offline perceivers only) or ``mllm`` (also ask a multimodal chat model,
        ``describer_model``: hub id or folder; see ``weavewave models``).
    refiner: how ``instruction`` rewrites the brief: ``rules`` (:func:`weavewave.refine.refine`) or ``llm``
        (:func:`weavewave.refine_llm.refine` with ``refiner_model``, falling back to the rules).
    device, dtype, cache: where neural models run, and a :class:`~weavewave.models.ModelCache` to share.
    """
    controls = _controls(duration, tempo, key, meter, genre, instruments, seed)
    neural = _check_neural(
        describer,
        describer_model,
        refiner,
        refiner_model,
        brief,
        instruction,
        device=device,
        dtype=dtype,
        cache=cache,
    )
    if audio is not None or instruction is not None or reference_mode is not None:
        return _describe_restyle(
            text,
            image,
            brief,
            controls,
            semantic,
            progress,
            audio,
            instruction,
            reference_mode,
            video=video,
            keep_audio=keep_audio,
            loop=loop,
            neural=neural,
        )
    report = progress or (lambda fraction, message: None)
    images = [image] if isinstance(image, str | Path) else list(image or [])
    if keep_audio and video is None:
        raise BadInputError("--keep-audio keeps a video's own sound: give the video with --video")
    if brief is not None and video is not None:
        from weavewave.perceive.video import probe_video

        probe_video(video)  # a brief already scored to this video: the video is only needed for video.mp4
    if brief is not None:
        if text or images:
            raise BadInputError(
                "pass either a brief or text/image inputs, not both: a brief already holds "
                "what the inputs said"
            )
        if isinstance(brief, MusicBrief):
            loaded = brief
        elif isinstance(brief, dict):
            loaded = MusicBrief.from_dict(brief)
        else:
            loaded = MusicBrief.load(brief)
        varied = apply_controls(loaded, controls)
        return _as_loop(varied, controls) if loop and not varied.loop else varied
    if text is not None and not text.strip():
        text = None
    if text is None and not images and video is None:
        raise BadInputError(
            "nothing to make music from: give a non-empty --text, an --image, a --video or a --brief"
        )

    perceptions = []
    if text is not None:
        from weavewave.perceive.text import perceive_text

        report(0.1, "reading the text")
        perceptions.append(perceive_text(text, semantic=semantic))
    for i, path in enumerate(images):
        from weavewave.perceive.image import perceive_image

        report(0.5 + 0.4 * i / len(images), f"looking at {Path(path).name}")
        perceptions.append(perceive_image(path))
    if video is not None:
        from weavewave.perceive.video import perceive_video

        report(0.6, f"watching {Path(video).name}")
        perceptions.append(perceive_video(video))
    if describer == "mllm":
        report(0.7, "asking the multimodal model")
        perceptions.append(_mllm_perception(neural, text=text, images=images, video=video))
    report(0.95, "writing the brief")
    fused = fuse(perceptions, controls)
    if video is not None:
        fused = _score_to_picture(
            fused, next(p for p in perceptions if p.observation.source == "video"), controls
        )
    return _as_loop(fused, controls) if loop else fused


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
    video: str | Path | None = None,
    keep_audio: bool = False,
    loop: bool = False,
    candidates: int = 1,
    rerank: str | None = None,
    audio: str | Path | None = None,
    instruction: str | None = None,
    reference_mode: str | None = None,
    # --- neural (musicgen backend, describer, LLM refiner, devices, shared model cache) ---
    model: str | None = None,
    steer: str | None = None,
    melody: str | Path | None = None,
    top_k: int = 250,
    top_p: float = 0.0,
    temperature: float = 1.0,
    guidance_scale: float = 3.0,
    window: float | None = None,
    prompt_seconds: float | None = None,
    decoder: str = "auto",
    describer: str = "analytic",
    describer_model: str | None = None,
    refiner: str = "rules",
    refiner_model: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    cache: Any = None,
) -> Track:
    """Make a finished piece from the inputs. Takes the same inputs and controls as :func:`describe`.

    ``stems=True`` also renders one stem per part into ``Track.stems``. ``candidates=N`` with
    ``rerank=METRIC`` makes N candidates with derived seeds and keeps the best (see
    :mod:`weavewave.evaluate.rerank`); all N scores go into the brief's provenance. Returns a
    :class:`~weavewave.generators.Track`; save it with :func:`weavewave.export.save_track`, which also
    writes ``video.mp4`` (the video with the new soundtrack) when given the video.

    ``backend="musicgen"`` makes the audio with MusicGen (``model``: hub id or folder); ``steer="symbolic"``
    or ``melody=PATH`` condition MusicGen-Melody on a melody; ``top_k``, ``top_p``, ``temperature`` and
    ``guidance_scale`` set sampling; ``window`` and ``prompt_seconds`` the long-form continuation;
    ``decoder`` the decoding loop (``auto``: the fast one where it applies; ``fast``; ``stock``).
    """
    report = progress or (lambda fraction, message: None)
    if candidates != 1 or rerank is not None:  # evaluation: best of N, checked before any work
        from weavewave.evaluate.rerank import check_rerank

        check_rerank(candidates, rerank)
    if backend == "symbolic":
        options: dict[str, Any] = {"soundfont": soundfont, "stems": stems}
    else:
        options = musicgen_options(
            model=model,
            steer=steer,
            melody=melody,
            top_k=top_k,
            top_p=top_p,
            temperature=temperature,
            guidance_scale=guidance_scale,
            window=window,
            prompt_seconds=prompt_seconds,
            device=device,
            dtype=dtype,
            soundfont=soundfont,
            stems=stems,
            cache=cache,
            decoder=decoder,
        )
    generator = get_generator(backend, **options)
    the_brief = describe(
        text,
        image,
        brief=brief,
        duration=duration,
        tempo=tempo,
        key=key,
        meter=meter,
        genre=genre,
        instruments=instruments,
        seed=seed,
        semantic=semantic,
        progress=lambda f, m: report(0.1 * f, m),
        video=video,
        keep_audio=keep_audio,
        loop=loop,
        audio=audio,
        instruction=instruction,
        reference_mode=reference_mode,
        describer=describer,
        describer_model=describer_model,
        refiner=refiner,
        refiner_model=refiner_model,
        device=device,
        dtype=dtype,
        cache=cache,
    )
    if candidates > 1:
        from weavewave.evaluate.rerank import generate_best

        track = generate_best(
            generator,
            the_brief,
            candidates=candidates,
            rerank=rerank,
            progress=lambda f, m: report(0.1 + 0.9 * f, m),
        )
    else:
        track = generator.generate(the_brief, progress=lambda f, m: report(0.1 + 0.9 * f, m))
    return track


# --- reference tunes and instructions (audio engineer) ----------------------------------------------
DEFAULT_REFERENCE_MODE = "melody"  # restyling keeps the tune unless asked otherwise, as M2T2M does


def _describe_restyle(
    text: str | None,
    image: Any,
    brief: Any,
    controls: Controls,
    semantic: bool | None,
    progress: ProgressFn | None,
    audio: str | Path | None,
    instruction: str | None,
    reference_mode: str | None,
    *,
    video: str | Path | None = None,
    keep_audio: bool = False,
    loop: bool = False,
    neural: dict[str, Any] | None = None,
) -> MusicBrief:
    """describe() with a reference tune and/or an instruction: perceive, fuse, keep the reference, refine."""
    from weavewave.brief import REFERENCE_MODES

    neural = neural or {}
    refine = _refiner(neural)  # neural engineer: the rules, or the LLM refiner when asked for

    report = progress or (lambda fraction, message: None)
    if reference_mode is not None and reference_mode not in REFERENCE_MODES:
        raise BadInputError(f"unknown reference mode {reference_mode!r}: use melody, harmony or style")
    if reference_mode is not None and audio is None:
        raise BadInputError("--reference-mode needs a reference tune: give it with --audio")
    if instruction is not None and not instruction.strip():
        raise BadInputError("--instruction is empty: say what to change, e.g. 'as jazz' or 'calmer'")
    if audio is None:
        if text is None and not image and brief is None and video is None:
            raise BadInputError(
                "--instruction needs something to change: give --audio, --text, --image, --video or --brief"
            )
        base = describe(
            text,
            image,
            brief=brief,
            duration=controls.duration,
            tempo=controls.tempo,
            key=controls.key,
            meter=controls.meter,
            genre=controls.genre,
            instruments=controls.instruments,
            seed=controls.seed,
            semantic=semantic,
            progress=progress,
            video=video,
            keep_audio=keep_audio,
            loop=loop,
            **{k: v for k, v in neural.items() if k not in ("refiner", "refiner_model")},
        )
        return _keep_controls(refine(base, instruction), controls) if instruction else base
    if brief is not None:
        raise BadInputError(
            "pass either a brief or --audio, not both: a restyled brief already holds the "
            "reference's material (generate --brief reproduces it)"
        )
    if video is not None:
        raise BadInputError(
            "--audio and --video cannot be combined yet: restyle the tune with --audio, or score "
            "the video with --video (its own sound is read from the video)"
        )
    if keep_audio:
        raise BadInputError("--keep-audio keeps a video's own sound: give the video with --video")
    from weavewave.perceive.audio import attach_reference, perceive_audio

    perceptions = []
    if text is not None and text.strip():
        from weavewave.perceive.text import perceive_text

        report(0.05, "reading the text")
        perceptions.append(perceive_text(text, semantic=semantic))
    for path in [image] if isinstance(image, str | Path) else list(image or []):
        from weavewave.perceive.image import perceive_image

        perceptions.append(perceive_image(path))
    if neural.get("describer") == "mllm":
        report(0.1, "asking the multimodal model")
        perceptions.append(
            _mllm_perception(
                neural,
                text=text,
                images=[image] if isinstance(image, str | Path) else list(image or []),
                audio=audio,
            )
        )
    report(0.2, f"listening to {Path(audio).name}")
    heard = perceive_audio(audio)
    perceptions.append(heard)
    report(0.8, "keeping the reference")
    fused = attach_reference(fuse(perceptions, controls), heard, reference_mode or DEFAULT_REFERENCE_MODE)
    if instruction:
        report(0.9, "applying the instruction")
        fused = _keep_controls(refine(fused, instruction), controls)
    return _as_loop(fused, controls) if loop else fused


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


# --- neural engineer: options of the musicgen backend, the describer and the LLM refiner -----------------
DESCRIBERS = ("analytic", "mllm")
REFINERS = ("rules", "llm")


def _check_neural(
    describer: str,
    describer_model: str | None,
    refiner: str,
    refiner_model: str | None,
    brief: Any,
    instruction: str | None,
    **runtime: Any,
) -> dict[str, Any]:
    """Check the neural choices before any work; missing models fail here with how to fetch them."""
    from weavewave.models import DEFAULT_MODEL, locate

    if describer not in DESCRIBERS:
        raise BadInputError(f"unknown describer {describer!r}: use {' or '.join(DESCRIBERS)}")
    if refiner not in REFINERS:
        raise BadInputError(f"unknown refiner {refiner!r}: use {' or '.join(REFINERS)}")
    if describer == "mllm" and brief is not None:
        raise BadInputError(
            "--describer mllm reads the inputs, and a --brief has already been described: drop one of them"
        )
    if describer == "mllm":
        locate(describer_model or DEFAULT_MODEL["describer"], "describer")
    if refiner == "llm":
        if not instruction:
            raise BadInputError(
                "--refiner llm rewrites the brief from an --instruction: give one, or drop --refiner"
            )
        locate(refiner_model or DEFAULT_MODEL["refiner"], "refiner")
    return dict(
        describer=describer,
        describer_model=describer_model,
        refiner=refiner,
        refiner_model=refiner_model,
        **runtime,
    )


def _mllm_perception(neural: dict[str, Any], **inputs: Any) -> Any:
    from weavewave.perceive.mllm import perceive_mllm

    return perceive_mllm(
        **inputs,
        model=neural.get("describer_model"),
        device=neural.get("device", "auto"),
        dtype=neural.get("dtype", "auto"),
        cache=neural.get("cache"),
    )


def _refiner(neural: dict[str, Any]) -> Any:
    """``refine(brief, instruction)``: the rule-based one, or the LLM one (which falls back to the rules)."""
    if neural.get("refiner") != "llm":
        from weavewave.refine import refine

        return refine
    from weavewave.models import DEFAULT_MODEL
    from weavewave.refine_llm import refine as refine_llm

    def refine(brief: MusicBrief, instruction: str) -> MusicBrief:
        return refine_llm(
            brief,
            instruction,
            model=neural.get("refiner_model") or DEFAULT_MODEL["refiner"],
            device=neural.get("device", "auto"),
            dtype=neural.get("dtype", "auto"),
            cache=neural.get("cache"),
        )

    return refine


def musicgen_options(
    *,
    model: str | None = None,
    steer: str | None = None,
    melody: str | Path | None = None,
    top_k: int = 250,
    top_p: float = 0.0,
    temperature: float = 1.0,
    guidance_scale: float = 3.0,
    window: float | None = None,
    prompt_seconds: float | None = None,
    device: str = "auto",
    dtype: str = "auto",
    soundfont: str | Path | None = None,
    stems: bool = False,
    cache: Any = None,
    decoder: str = "auto",
) -> dict[str, Any]:
    """Keyword arguments for :class:`~weavewave.generators.musicgen.MusicgenGenerator`."""
    if stems:
        raise BadInputError(
            "the musicgen backend makes one mixed track and no stems: drop --stems, or use --backend symbolic"
        )
    options: dict[str, Any] = dict(
        model=model,
        steer=steer,
        melody=melody,
        top_k=top_k,
        top_p=top_p,
        temperature=temperature,
        guidance_scale=guidance_scale,
        device=device,
        dtype=dtype,
        soundfont=soundfont,
        cache=cache,
        decoder=decoder,
    )
    if window is not None:
        options["window_s"] = window
    if prompt_seconds is not None:
        options["prompt_s"] = prompt_seconds
    return options
