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
    video: str | Path | None = None,
    keep_audio: bool = False,
    loop: bool = False,
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
    """
    controls = _controls(duration, tempo, key, meter, genre, instruments, seed)
    report = progress or (lambda fraction, message: None)
    images = [image] if isinstance(image, str | Path) else list(image or [])
    if keep_audio and video is None:
        raise BadInputError("--keep-audio keeps a video's own sound: give the video with --video")
    if brief is not None and video is not None:
        from weavewave.perceive.video import probe_video

        probe_video(video)  # a brief already scored to this video: the video is only needed for video.mp4
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
        varied = apply_controls(loaded, controls)
        return _as_loop(varied, controls) if loop and not varied.loop else varied
    if text is not None and not text.strip():
        text = None
    if text is None and not images and video is None:
        raise BadInputError("nothing to make music from: give a non-empty --text, an --image, a --video or a "
                            "--brief")

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
    report(0.95, "writing the brief")
    fused = fuse(perceptions, controls)
    if video is not None:
        fused = _score_to_picture(fused, perceptions[-1], controls)
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

    return as_loop(brief, tempo_fixed=controls.tempo is not None, duration_fixed=controls.duration is not None)
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
) -> Track:
    """Make a finished piece from the inputs. Takes the same inputs and controls as :func:`describe`.

    ``stems=True`` also renders one stem per part into ``Track.stems``. ``candidates=N`` with
    ``rerank=METRIC`` makes N candidates with derived seeds and keeps the best (see
    :mod:`weavewave.evaluate.rerank`); all N scores go into the brief's provenance. Returns a
    :class:`~weavewave.generators.Track`; save it with :func:`weavewave.export.save_track`, which also
    writes ``video.mp4`` (the video with the new soundtrack) when ``video`` was given.
    """
    report = progress or (lambda fraction, message: None)
    if candidates != 1 or rerank is not None:  # evaluation: best of N, checked before any work
        from weavewave.evaluate.rerank import check_rerank

        check_rerank(candidates, rerank)
    options: dict[str, Any] = {"soundfont": soundfont, "stems": stems} if backend == "symbolic" else {}
    generator = get_generator(backend, **options)
    the_brief = describe(text, image, brief=brief, duration=duration, tempo=tempo, key=key, meter=meter,
                         genre=genre, instruments=instruments, seed=seed, semantic=semantic,
                         progress=lambda f, m: report(0.1 * f, m), video=video, keep_audio=keep_audio,
                         loop=loop)
    if candidates > 1:
        from weavewave.evaluate.rerank import generate_best

        track = generate_best(generator, the_brief, candidates=candidates, rerank=rerank,
                              progress=lambda f, m: report(0.1 + 0.9 * f, m))
    else:
        track = generator.generate(the_brief, progress=lambda f, m: report(0.1 + 0.9 * f, m))
    if video is not None:
        track.video_path, track.keep_audio = str(video), keep_audio
    return track
