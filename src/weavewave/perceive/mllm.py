"""The ``mllm`` perceiver: a multimodal chat model looks at the inputs and describes the music they call for.

Any transformers vision-language chat model loads through the Auto classes (``AutoProcessor`` and
``AutoModelForImageTextToText``): Qwen2.5-VL, SmolVLM, Gemma 3, LLaVA... and, with transformers 5, the
audio-language chat models of ``AutoModelForMultimodalLM`` (Qwen2-Audio). It sees the photos, several
frames sampled across a video (PyAV, when installed), the text, and the audio when its processor takes
audio (has a feature extractor): resampled to the extractor's rate, at most the middle
:data:`MAX_AUDIO_S` seconds. Our prompt asks for a one-sentence music caption plus JSON attributes (genre,
mood, tempo range, instruments, energy).

Models write messy text. :func:`parse_answer` salvages a JSON object from code fences, prose, single
quotes, trailing commas or ``key: value`` lines, validates each field on its own (an unknown genre drops
the genre, not the answer) and never raises. What survives becomes proposals with source ``mllm``,
fused by the bridge like any other perception, with provenance; the raw answer is kept in the
observation so a user can see what the model said.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weavewave.brief import Observation
from weavewave.errors import BadInputError, MissingDependencyError
from weavewave.io.video import sample_frames
from weavewave.neural.chat_json import json_objects
from weavewave.perceive import Perception, Proposal

if TYPE_CHECKING:
    from weavewave.neural.models import ModelCache

SYSTEM_PROMPT = (
    "You are a film and game music supervisor. You look at what the user gives you and describe "
    "the music that would fit it, precisely and briefly."
)
USER_PROMPT = (
    "Describe the music that fits {what}. Answer with one JSON object and nothing else, with these keys:\n"
    '"caption": one or two sentences a text-to-music model can read: style, mood, instruments, tempo feel;\n'
    '"genre": one of pop, rock, jazz, lofi, electronic, ambient, classical, folk, cinematic;\n'
    '"mood": a list of up to four mood words;\n'
    '"tempo_bpm": [lowest, highest] beats per minute;\n'
    '"instruments": a list of up to five instruments;\n'
    '"energy": a number from 0 (very calm) to 1 (very intense).'
)
TEXT_INTRO = "This is the user's text:\n"
MAX_NEW_TOKENS = 256
VIDEO_FRAMES = 6
MAX_IMAGE_SIDE = 768  # larger photos are scaled down before the processor sees them
MAX_AUDIO_S = 30.0  # longer audio is cut to its middle 30 s (Whisper-style encoders hear 30 s)
CAPTION_MAX_CHARS = 300
MAX_MOOD_WORDS = 4
MAX_INSTRUMENTS = 5
TEMPO_LIMITS = (30.0, 300.0)
CONFIDENCE = 0.6  # below explicit requests in the text, above the image measures' weakest hints
ANSWER_KEPT_CHARS = 600
ENERGY_WORDS = {
    "very low": 0.1,
    "very calm": 0.1,
    "low": 0.25,
    "calm": 0.25,
    "medium": 0.5,
    "moderate": 0.5,
    "mid": 0.5,
    "high": 0.75,
    "intense": 0.85,
    "very high": 0.9,
    "peak": 0.95,
}
KNOWN_KEYS = ("caption", "genre", "mood", "tempo_bpm", "instruments", "energy")
KEY_ALIASES = {
    "description": "caption",
    "music": "caption",
    "style": "genre",
    "moods": "mood",
    "tempo": "tempo_bpm",
    "bpm": "tempo_bpm",
    "tempo_range": "tempo_bpm",
    "instrumentation": "instruments",
    "instrument": "instruments",
    "intensity": "energy",
}


# ======================================================================================================
# Parsing
# ======================================================================================================
@dataclass
class MllmAnswer:
    """What could be used from a model's answer; ``problems`` says what was dropped and why."""

    caption: str | None = None
    genre: str | None = None
    mood: list[str] = field(default_factory=list)
    tempo_bpm: tuple[float, float] | None = None
    instruments: list[str] = field(default_factory=list)
    energy: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return any(
            (self.caption, self.genre, self.mood, self.tempo_bpm, self.instruments, self.energy is not None)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "caption": self.caption,
            "genre": self.genre,
            "mood": self.mood,
            "tempo_bpm": list(self.tempo_bpm) if self.tempo_bpm else None,
            "instruments": self.instruments,
            "energy": self.energy,
        }


def _key_value_lines(text: str) -> dict[str, Any]:
    """``Genre: jazz`` style lines, for models that ignore the JSON request."""
    found: dict[str, Any] = {}
    for line in text.splitlines():
        m = re.match(r"\s*[-*#]*\s*\**([A-Za-z_ ]{3,20}?)\**\s*[:=]\s*(.+)", line)
        if not m:
            continue
        key = m.group(1).strip().lower().replace(" ", "_")
        key = KEY_ALIASES.get(key, key)
        if key in KNOWN_KEYS and key not in found:
            found[key] = m.group(2).strip().strip('",')
    return found


def extract_json(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` with at least one known key, salvaged if need be; else None."""
    for found in json_objects(text):
        data = {KEY_ALIASES.get(str(k).strip().lower(), str(k).strip().lower()): v for k, v in found.items()}
        if any(k in data for k in KNOWN_KEYS):
            return data
    lines = _key_value_lines(re.sub(r"```(?:json)?", "", text or ""))
    return lines or None


def word_list(value: Any) -> list[str]:
    """A model's list of words ("calm, smoky and warm" or ["Calm", "smoky."]) as clean lower-case items."""
    if isinstance(value, str):
        value = re.split(r"[,;/]| and ", value)
    if not isinstance(value, list | tuple):
        return []
    return [re.sub(r"\s+", " ", str(v)).strip().strip(".").lower() for v in value if str(v).strip()]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and (m := re.search(r"-?\d+(?:\.\d+)?", value)):
        return float(m.group())
    return None


def _parse_tempo(value: Any) -> tuple[float, float] | None:
    if isinstance(value, dict):
        value = [value.get("min", value.get("low")), value.get("max", value.get("high"))]
    if isinstance(value, str):
        value = re.findall(r"\d+(?:\.\d+)?", value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value, value]
    if not isinstance(value, list | tuple) or not value:
        return None
    nums = [n for n in (_number(v) for v in value[:2]) if n is not None]
    if not nums:
        return None
    lo, hi = min(nums), max(nums)
    if lo < TEMPO_LIMITS[0] or hi > TEMPO_LIMITS[1]:
        return None
    return (lo, hi)


def _parse_energy(value: Any) -> float | None:
    if isinstance(value, str) and _number(value) is None:
        return ENERGY_WORDS.get(value.strip().lower())
    n = _number(value)
    if n is None or n < 0:
        return None
    if n > 1:  # a 0-10 or 0-100 scale
        n = n / 10 if n <= 10 else n / 100 if n <= 100 else None
    return None if n is None else round(min(1.0, n), 3)


def clean_caption(value: Any) -> str | None:
    """A model's caption with its whitespace and quotes tidied and its length capped (at a sentence end
    where one is near), or None when it is not a sentence (fewer than three words)."""
    if not isinstance(value, str):
        return None
    text = re.sub(r"\s+", " ", value).strip().strip('"')
    if len(re.findall(r"[A-Za-z]{2,}", text)) < 3:
        return None
    if len(text) > CAPTION_MAX_CHARS:
        cut = text[:CAPTION_MAX_CHARS]
        text = cut[: cut.rfind(". ") + 1] if ". " in cut else cut.rsplit(" ", 1)[0]
    return text


def parse_answer(text: str) -> MllmAnswer:
    """Everything usable in a model's answer. Never raises: bad fields are dropped and listed."""
    from weavewave.music.instruments import resolve_instrument
    from weavewave.music.styles import resolve_genre

    answer = MllmAnswer()
    data = extract_json(text)
    if data is None:
        answer.problems.append("no JSON object or 'key: value' lines in the answer")
        return answer
    if "caption" in data:
        answer.caption = clean_caption(data["caption"])
        if answer.caption is None:
            answer.problems.append("caption is not a sentence")
    if data.get("genre"):
        genre = data["genre"][0] if isinstance(data["genre"], list) and data["genre"] else data["genre"]
        try:
            answer.genre = resolve_genre(str(genre))
        except (BadInputError, ValueError):
            answer.problems.append(f"unknown genre {str(genre)[:40]!r}")
    answer.mood = [w for w in word_list(data.get("mood")) if re.fullmatch(r"[a-z][a-z -]{1,24}", w)][
        :MAX_MOOD_WORDS
    ]
    if "tempo_bpm" in data:
        answer.tempo_bpm = _parse_tempo(data["tempo_bpm"])
        if answer.tempo_bpm is None:
            answer.problems.append(f"tempo {str(data['tempo_bpm'])[:40]!r} is not a range of 30-300 BPM")
    for name in word_list(data.get("instruments")):
        try:
            canonical = resolve_instrument(name)
        except (BadInputError, ValueError):
            answer.problems.append(f"unknown instrument {name[:40]!r}")
            continue
        if canonical not in answer.instruments:
            answer.instruments.append(canonical)
    answer.instruments = answer.instruments[:MAX_INSTRUMENTS]
    if "energy" in data:
        answer.energy = _parse_energy(data["energy"])
        if answer.energy is None:
            answer.problems.append(f"energy {str(data['energy'])[:40]!r} is not a number from 0 to 1")
    return answer


# ======================================================================================================
# Answer -> Perception
# ======================================================================================================
def _mood_circumplex(words: list[str]) -> tuple[float, float] | None:
    from weavewave.perceive.lexicon import MOOD_WORDS

    entries = [MOOD_WORDS[w] for w in words if w in MOOD_WORDS]
    if not entries:
        return None
    return (sum(e.valence for e in entries) / len(entries), sum(e.arousal for e in entries) / len(entries))


def answer_perception(
    answer: MllmAnswer, raw: str, *, model: str, inputs: str, notes: Sequence[str] = ()
) -> Perception:
    """Proposals from a parsed answer, each with a reason naming the model's words."""
    p: dict[str, Proposal] = {}
    said = f"the {model.rsplit('/', 1)[-1]} model"
    if answer.caption:
        p["caption_hint"] = Proposal(answer.caption, CONFIDENCE, f"{said} described it: {answer.caption}")
    if answer.genre:
        p["genre"] = Proposal(answer.genre, CONFIDENCE, f"genre {answer.genre}: suggested by {said}")
    mood = _mood_circumplex(answer.mood)
    arousal_votes: list[float] = []
    if mood is not None:
        p["valence"] = Proposal(
            round(mood[0], 3), CONFIDENCE, f"{said} called the mood {', '.join(answer.mood)}"
        )
        arousal_votes.append(mood[1])
    if answer.tempo_bpm is not None:
        mid = sum(answer.tempo_bpm) / 2
        arousal_votes.append(max(-1.0, min(1.0, (mid - 100.0) / 50.0)))
    if answer.energy is not None:
        p["energy"] = Proposal(answer.energy, CONFIDENCE, f"{said} rated the energy {answer.energy:.2f}")
        arousal_votes.append(2 * answer.energy - 1)
    if arousal_votes:
        a = round(sum(arousal_votes) / len(arousal_votes), 3)
        why = [
            f"mood {', '.join(answer.mood)}" if mood else "",
            f"tempo {answer.tempo_bpm[0]:g}-{answer.tempo_bpm[1]:g} BPM" if answer.tempo_bpm else "",
            f"energy {answer.energy:.2f}" if answer.energy is not None else "",
        ]
        p["arousal"] = Proposal(a, CONFIDENCE, f"{said} suggested {'; '.join(w for w in why if w)}")
    if answer.mood:
        p["mood_tags"] = Proposal(answer.mood, CONFIDENCE, f"mood words from {said}")
    if answer.instruments:
        p["instruments_add"] = Proposal(
            answer.instruments, CONFIDENCE, f"{said} suggested {', '.join(answer.instruments)}"
        )
    if answer.usable:
        summary = f"{said}: {answer.caption or ', '.join(filter(None, [answer.genre, *answer.mood]))}"
    else:
        summary = f"{said}'s answer held no usable description; nothing was taken from it"
    measurements: dict[str, Any] = {
        "model": model,
        "answer": raw[:ANSWER_KEPT_CHARS],
        "parsed": answer.as_dict(),
        "problems": answer.problems,
    }
    if notes:
        measurements["notes"] = list(notes)
    return Perception(Observation(source="mllm", input=inputs, summary=summary, measurements=measurements), p)


# ======================================================================================================
# Loading and asking
# ======================================================================================================
@dataclass
class ChatBundle:
    """A loaded multimodal chat model and its processor."""

    model: Any
    processor: Any
    ref: str
    device: str
    takes_audio: bool

    @property
    def tokenizer(self) -> Any:
        return getattr(self.processor, "tokenizer", self.processor)

    def __repr__(self) -> str:
        return f"ChatBundle({self.ref!r} on {self.device}, audio={'yes' if self.takes_audio else 'no'})"


def load_describer(
    ref: str, *, device: str = "auto", dtype: str = "auto", cache: ModelCache | None = None
) -> ChatBundle:
    """Load a vision- or audio-language chat model (hub id or folder) once per cache."""
    from weavewave.neural.models import load_once

    return load_once("describer", ref, _load_describer, device=device, dtype=dtype, cache=cache)


def _load_describer(ref: str, device: str, torch_dtype: Any) -> ChatBundle:
    from transformers import AutoConfig

    from weavewave.neural.models import check_tokenizer, from_pretrained, quiet_transformers

    quiet_transformers()
    config = from_pretrained(AutoConfig.from_pretrained, ref, "describer")
    model = _load_chat_model(ref, config.model_type, torch_dtype)
    processor = _load_processor(ref, config.model_type)
    tokenizer = getattr(processor, "tokenizer", processor)
    check_tokenizer(tokenizer, ref)
    if (
        getattr(processor, "chat_template", None) is None
        and getattr(tokenizer, "chat_template", None) is None
    ):
        raise BadInputError(
            f"{ref} has no chat template, so it is not an instruction-tuned chat model: use an "
            "'-Instruct' or '-it' model"
        )
    model.to(device).eval()
    takes_audio = getattr(processor, "feature_extractor", None) is not None
    return ChatBundle(model=model, processor=processor, ref=ref, device=device, takes_audio=takes_audio)


def _auto_model_classes() -> list[Any]:
    """The Auto classes a describer may come from: vision-language first, then (transformers 5) the
    multimodal one, which adds the audio-language chat models (Qwen2-Audio, Voxtral, Granite Speech...)."""
    import transformers

    return [
        getattr(transformers, name)
        for name in ("AutoModelForImageTextToText", "AutoModelForMultimodalLM")
        if hasattr(transformers, name)
    ]


def _load_chat_model(ref: str, model_type: str, torch_dtype: Any) -> Any:
    from weavewave.neural.models import from_pretrained

    reasons = []
    for auto in _auto_model_classes():
        try:
            return from_pretrained(auto.from_pretrained, ref, "describer", dtype=torch_dtype)
        except ValueError as exc:  # this Auto class has no mapping for the architecture
            reasons.append(f"{auto.__name__}: {str(exc).splitlines()[0]}")
        except ImportError as exc:  # e.g. Gemma 3n's vision tower is a timm model
            raise _missing_package(ref, model_type, "model", exc) from None
    raise BadInputError(
        f"{ref} ({model_type}) is not a vision-language or audio-language chat model: pass one to "
        f"--describer-model, e.g. Qwen/Qwen2.5-VL-3B-Instruct ({'; '.join(reasons)})"
    )


def _load_processor(ref: str, model_type: str) -> Any:
    """The model's processor. A part that needs a missing package (Qwen2.5-Omni's video processor needs
    torchvision) is named in a one-line error rather than a transformers traceback."""
    from transformers import AutoProcessor

    from weavewave.neural.models import from_pretrained

    try:
        return from_pretrained(AutoProcessor.from_pretrained, ref, "describer")
    except ImportError as exc:
        raise _missing_package(ref, model_type, "processor", exc) from None


def _missing_package(ref: str, model_type: str, part: str, exc: ImportError) -> MissingDependencyError:
    why = " ".join(str(exc).split()).split(". ")[0].rstrip(".") or type(exc).__name__
    return MissingDependencyError(
        f"the {part} of {ref} ({model_type}) cannot be built here: {why}. Install what it names, or use a "
        "model that does without it (Qwen/Qwen2-Audio-7B-Instruct hears audio without torchvision or timm)"
    )


def _open_image(path: str | Path) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.draft("RGB", (MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
            img = im.convert("RGB")
    except FileNotFoundError:
        raise BadInputError(f"image not found: {path}; check the path") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise BadInputError(f"cannot read image {path}: {exc}; use a JPEG, PNG or WebP file") from None
    img.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
    return img


def _load_audio(path: str | Path, sample_rate: int) -> Any:
    from weavewave.dsp.signal import resample, to_mono
    from weavewave.io.audio import read_audio

    audio, sr = read_audio(path)
    return resample(to_mono(audio), sr, sample_rate).astype("float32")


def audio_window_s(feature_extractor: Any) -> float:
    """How much audio the model hears: :data:`MAX_AUDIO_S`, or less when its feature extractor's window
    (``n_samples``, e.g. Whisper's 30 s) is shorter."""
    window = getattr(feature_extractor, "n_samples", None)
    sr = float(feature_extractor.sampling_rate)
    return min(MAX_AUDIO_S, window / sr) if window else MAX_AUDIO_S


def middle_window(sound: Any, sample_rate: int, seconds: float) -> tuple[Any, float]:
    """The middle ``seconds`` of ``sound`` and where they start (s). Feature extractors cut audio at
    their window and keep the start; the middle of a tune says more about its music than its intro."""
    keep = int(round(seconds * sample_rate))
    if len(sound) <= keep:
        return sound, 0.0
    start = (len(sound) - keep) // 2
    return sound[start : start + keep], start / sample_rate


def build_messages(*, text: str | None, images: Sequence[Any], audio: Any | None) -> list[dict[str, Any]]:
    """The chat: our system prompt, then the media and the request in one user turn."""
    what = []
    if images:
        what.append("these images" if len(images) > 1 else "this image")
    if audio is not None:
        what.append("this recording")
    if text:
        what.append("this text")
    content: list[dict[str, Any]] = [{"type": "image", "image": img} for img in images]
    if audio is not None:
        content.append({"type": "audio", "audio": audio})
    request = USER_PROMPT.format(what=" and ".join(what) or "the user's idea")
    if text:
        request = TEXT_INTRO + text.strip()[:4000] + "\n\n" + request
    content.append({"type": "text", "text": request})
    return [
        {"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]},
        {"role": "user", "content": content},
    ]


def ask(bundle: ChatBundle, messages: list[dict[str, Any]], *, max_new_tokens: int = MAX_NEW_TOKENS) -> str:
    """The model's answer to the chat, greedy (the same inputs give the same description)."""
    import torch

    inputs = bundle.processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    inputs = {
        k: (v.to(bundle.device, bundle.model.dtype) if v.is_floating_point() else v.to(bundle.device))
        for k, v in inputs.items()
    }
    with torch.inference_mode():
        out = bundle.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    new = out[:, inputs["input_ids"].shape[1] :]
    return bundle.tokenizer.batch_decode(new, skip_special_tokens=True)[0].strip()


def perceive_mllm(
    *,
    text: str | None = None,
    images: Sequence[str | Path] = (),
    video: str | Path | None = None,
    audio: str | Path | None = None,
    model: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    cache: ModelCache | None = None,
    frames: int = VIDEO_FRAMES,
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> Perception:
    """Ask a multimodal chat model to describe the music for the inputs; returns a ``mllm`` Perception."""
    from weavewave.neural.models import DEFAULT_MODEL

    ref = model or DEFAULT_MODEL["describer"]
    if not text and not images and video is None and audio is None:
        raise BadInputError("the mllm describer needs an input: give --text, --image, --video or --audio")
    bundle = load_describer(ref, device=device, dtype=dtype, cache=cache)
    pictures = [_open_image(p) for p in images]
    names = [Path(p).name for p in images]
    notes: list[str] = []
    if video is not None:
        pictures += sample_frames(video, frames, max_side=MAX_IMAGE_SIDE)
        names.append(f"{Path(video).name} ({frames} frames)")
    sound = None
    if audio is not None:
        if bundle.takes_audio:
            extractor = bundle.processor.feature_extractor
            sr = int(extractor.sampling_rate)
            full = _load_audio(audio, sr)
            sound, start = middle_window(full, sr, audio_window_s(extractor))
            names.append(Path(audio).name)
            if len(sound) < len(full):
                notes.append(
                    f"{Path(audio).name} is {len(full) / sr:.0f} s long; the model heard the "
                    f"{len(sound) / sr:.0f} s from {start:.0f} s to {start + len(sound) / sr:.0f} s"
                )
        else:
            notes.append(f"{ref} does not take audio, so {Path(audio).name} was not sent to it")
    if text:
        names.append("text")
    raw = ask(bundle, build_messages(text=text, images=pictures, audio=sound), max_new_tokens=max_new_tokens)
    return answer_perception(parse_answer(raw), raw, model=ref, inputs=" + ".join(names), notes=notes)
