"""Model-backed annotation roles for ``weavewave annotate`` (MusFlow's agents with weights).

- :class:`ClapReviewer` runs the measurement checks of :class:`~weavewave.train.annotate.MeasurementReviewer`
  and then scores each caption against its segment's audio by CLAP (cosine of the two unit embeddings).
  The score is recorded in every row (``clap_score``, and how in the provenance); a caption below the
  threshold is rejected (``--review reject``) or kept and flagged (``--review correct``: a caption the
  audio does not bear out cannot be corrected from measurements, so it is marked for a person to read).
- :class:`ModelWriter` asks an instruct causal LM (transformers ``AutoModelForCausalLM`` and the
  tokenizer's chat template, loaded as the LLM refiner loads its model) for MusFlow's story and image
  prompt, one question each, from the caption and attributes. An empty or garbled answer leaves that
  field empty, as offline, with the reason.
- :class:`ModelDescriber` has an audio-language chat model (``perceive/mllm``'s loader) caption each
  segment from its audio; the attributes stay measured, and the reviewer checks the caption.

torch and transformers are imported only when a role is built.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any

import numpy as np

from weavewave.errors import BadInputError
from weavewave.train.annotate import AnalyticDescriber, Annotation, MeasurementReviewer, Measurements

if TYPE_CHECKING:
    from weavewave.neural.models import ModelCache

# A real CLAP (laion/clap-htsat-unfused) gives a fitting caption a cosine of roughly 0.2-0.5 and an
# unrelated one about 0-0.15; 0.1 drops only captions the audio clearly does not bear out.
DEFAULT_CLAP_THRESHOLD = 0.1
CLAP_DECIMALS = 4

WRITER_SYSTEM = (
    "You write short texts for a music dataset. Answer with the text only: no title, no list, no quotes."
)
STORY_PROMPT = (
    "Music: {caption}.\nAttributes: {attributes}.\n\nWrite a short story (two or three sentences) that this "
    "music could accompany."
)
IMAGE_PROMPT = (
    "Music: {caption}.\nAttributes: {attributes}.\n\nWrite one sentence describing a photograph or "
    "painting that fits this music, as a prompt for an image generator."
)
STORY_MAX_CHARS = 600
IMAGE_PROMPT_MAX_CHARS = 300
WRITER_MAX_NEW_TOKENS = 160
MIN_WORDS = 3  # an answer with fewer words is not a story or a prompt
MIN_LETTER_SHARE = (
    0.6  # below this share of letters (spaces aside), an answer is garbled (code, symbols, bytes)
)
_LABEL = re.compile(r"^\s*(story|image prompt|image|prompt|answer)\s*:\s*", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]{2,}")


class ClapReviewer:
    """The measurement checks, then the caption's CLAP similarity to the segment against a threshold."""

    def __init__(
        self, clap_model: str, *, threshold: float = DEFAULT_CLAP_THRESHOLD, action: str = "correct"
    ) -> None:
        from weavewave.evaluate.neural import load_clap

        if not -1.0 <= threshold <= 1.0:
            raise BadInputError(f"--clap-threshold {threshold:g}: a cosine similarity, between -1 and 1")
        self.measurements = MeasurementReviewer(action)  # checks the action before the model loads
        self.action = action
        self.threshold = threshold
        self.clap = load_clap(clap_model)
        self.name = f"measurements+clap ({self.clap.name}, threshold {threshold:g})"

    def review(
        self,
        annotation: Annotation,
        m: Measurements,
        *,
        audio: np.ndarray | None = None,
        sample_rate: int | None = None,
    ) -> Annotation:
        """Review ``annotation`` against ``m`` and, given the segment's mono ``audio`` [shape=(n,)], by CLAP."""
        from weavewave.evaluate.neural import clap_score

        annotation = self.measurements.review(annotation, m)
        if annotation.review == "rejected" or audio is None or sample_rate is None:
            return annotation  # silent or already refused: nothing for CLAP to hear or to overrule
        score = round(clap_score(self.clap, audio, sample_rate, annotation.caption), CLAP_DECIMALS)
        annotation.clap_score = score
        annotation.provenance["clap_score"] = (
            f"CLAP ({self.clap.name}) cosine between the caption and the segment's audio: {score:.3f} "
            f"(threshold {self.threshold:g})"
        )
        if score >= self.threshold:
            return annotation
        note = f"clap: caption-audio similarity {score:.3f} below {self.threshold:g}"
        if self.action == "reject":
            annotation.review = "rejected"
            annotation.review_notes = [*annotation.review_notes, note]
        else:
            annotation.review_notes = [*annotation.review_notes, note + "; flagged"]
            if annotation.review == "ok":
                annotation.review = "flagged"
        return annotation


def clean_answer(text: str, max_chars: int) -> tuple[str, str | None]:
    """A model's answer as one tidy line, and None; or ``""`` and why it is unusable (empty, garbled)."""
    line = " ".join(str(text).split())
    line = _LABEL.sub("", line).strip().strip("\"'“”").strip()
    if not line:
        return "", "the answer was empty"
    shown = line.replace(" ", "")
    letters = sum(ch.isalpha() for ch in shown) / max(1, len(shown))
    broken = any(ch == "\ufffd" or unicodedata.category(ch).startswith("C") for ch in line)  # bytes, controls
    if broken or len(_WORD.findall(line)) < MIN_WORDS or letters < MIN_LETTER_SHARE:
        return "", f"the answer was garbled ({line[:40]!r})"
    if len(line) > max_chars:  # cut at the last sentence end, else the last word, that fits
        cut = line[:max_chars]
        end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
        line = cut[: end + 1] if end > max_chars // 2 else cut.rsplit(" ", 1)[0]
    return line, None


class ModelWriter:
    """MusFlow's story and image prompt from an instruct model; an unusable answer leaves the field empty."""

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        cache: ModelCache | None = None,
        max_new_tokens: int = WRITER_MAX_NEW_TOKENS,
    ) -> None:
        from weavewave.neural.models import load_once

        self.bundle = load_once("writer", model, _load_writer, device=device, dtype=dtype, cache=cache)
        self.model = model
        self.max_new_tokens = max_new_tokens
        self.name = f"model ({model})"

    def ask(self, prompt: str) -> str:
        """The model's greedy answer to one user message under WRITER_SYSTEM."""
        from weavewave.bridge.refine_llm import ask_chat

        messages = [{"role": "system", "content": WRITER_SYSTEM}, {"role": "user", "content": prompt}]
        return ask_chat(self.bundle, messages, max_new_tokens=self.max_new_tokens)

    def write(self, annotation: Annotation) -> Annotation:
        """Fill ``story`` and ``image_prompt``; ``writer`` names the model and any field left empty, and why."""
        a = annotation.attributes
        said = {
            "tempo": f"{a.get('tempo_bpm'):.0f} BPM" if a.get("tempo_bpm") else None,
            "key": a.get("key"),
            "meter": a.get("meter"),
            "mood": ", ".join(a.get("mood") or []) or None,
            "genre": a.get("genre"),
        }
        attributes = "; ".join(f"{k} {v}" for k, v in said.items() if v)
        problems = []
        for field_name, template, limit in (
            ("story", STORY_PROMPT, STORY_MAX_CHARS),
            ("image_prompt", IMAGE_PROMPT, IMAGE_PROMPT_MAX_CHARS),
        ):
            answer = self.ask(template.format(caption=annotation.caption.rstrip("."), attributes=attributes))
            text, why = clean_answer(answer, limit)
            setattr(annotation, field_name, text)
            if why:
                problems.append(f"{field_name} left empty: {why}")
            annotation.provenance[field_name] = (
                f"left empty: {self.model}'s {why}"
                if why
                else f"written by {self.model} from the caption and attributes"
            )
        annotation.writer = f"model: {self.model}" + (f"; {'; '.join(problems)}" if problems else "")
        return annotation


def _load_writer(ref: str, device: str, torch_dtype: Any) -> Any:
    from weavewave.bridge.refine_llm import load_instruct

    return load_instruct(ref, device, torch_dtype, flag="--writer-model", role="writer")


DESCRIBER_SYSTEM = (
    "You are a music annotator. You listen to a recording and describe it precisely and briefly."
)
DESCRIBER_PROMPT = (
    "Describe this recording. Answer with one JSON object and nothing else, with these keys:\n"
    '"caption": one or two sentences a text-to-music model can read: style, mood, instruments, tempo feel;\n'
    '"instruments": a list of up to five instruments you hear.'
)
DESCRIBER_MAX_NEW_TOKENS = 160


class ModelDescriber:
    """An audio-language chat model (loaded as ``perceive/mllm`` loads one) captions each segment it hears.

    The attributes stay the analytic describer's measurements (a model's guess at a tempo or key is not a
    measurement); the caption is the model's, checked by the reviewer like any other. A user's caption is
    kept as written, and an answer without a usable caption leaves the analytic caption, with the reason.
    """

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        cache: ModelCache | None = None,
        max_new_tokens: int = DESCRIBER_MAX_NEW_TOKENS,
    ) -> None:
        from weavewave.perceive.mllm import load_describer

        self.bundle = load_describer(model, device=device, dtype=dtype, cache=cache)
        if not self.bundle.takes_audio:
            raise BadInputError(
                f"--describer-model {model} does not take audio: annotate needs an audio-language chat model "
                "such as Qwen/Qwen2-Audio-7B-Instruct"
            )
        self.model = model
        self.max_new_tokens = max_new_tokens
        self.analytic = AnalyticDescriber()
        self.name = f"mllm ({model})"

    def ask(self, sound: np.ndarray) -> str:
        """The model's greedy answer about ``sound`` [shape=(n,)], at its feature extractor's rate."""
        from weavewave.perceive.mllm import ask

        messages: list[dict[str, Any]] = [
            {"role": "system", "content": [{"type": "text", "text": DESCRIBER_SYSTEM}]},
            {"role": "user", "content": [{"type": "audio", "audio": sound},
                                         {"type": "text", "text": DESCRIBER_PROMPT}]},
        ]  # fmt: skip
        return ask(self.bundle, messages, max_new_tokens=self.max_new_tokens)

    def describe(
        self,
        m: Measurements,
        *,
        tags: dict[str, str],
        user_caption: str | None,
        audio: np.ndarray | None = None,
        sample_rate: int | None = None,
    ) -> Annotation:
        """The analytic annotation of ``m`` with the model's caption of the segment's mono ``audio``."""
        from weavewave.dsp.signal import resample
        from weavewave.perceive.mllm import audio_window_s, middle_window, parse_answer

        annotation = self.analytic.describe(m, tags=tags, user_caption=user_caption)
        if user_caption or audio is None or sample_rate is None:
            return annotation
        extractor = self.bundle.processor.feature_extractor
        rate = int(extractor.sampling_rate)
        sound, _ = middle_window(resample(audio, sample_rate, rate).astype(np.float32), rate,
                                 audio_window_s(extractor))  # fmt: skip
        answer = parse_answer(self.ask(sound))
        if answer.caption:
            annotation.caption = answer.caption
            annotation.provenance["caption"] = (
                f"written by the audio-language model {self.model} from the segment's audio, checked by the "
                "reviewer"
            )
            if answer.instruments:
                annotation.provenance["instruments"] = (
                    f"heard by {self.model}: {', '.join(answer.instruments)}"
                )
        else:
            why = "; ".join(answer.problems) or "no caption in the answer"
            annotation.provenance["caption"] = (
                f"written by the analytic describer from the measurements: {self.model}'s answer was not "
                f"usable ({why})"
            )
        return annotation
