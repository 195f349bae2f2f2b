"""The ``llm`` refiner: a small instruct model rewrites a brief from the user's instruction.

Same call shape as the rule-based refiner, ``refine(brief, instruction) -> MusicBrief``. The model sees
the brief's editable fields as JSON (caption, tempo, key, genre, mood, energy, instruments and the
section captions) and the instruction ("make it a Christmas carol", "more energetic"), and answers with
the same JSON, changed. Its answer is salvaged with the perceiver's JSON parser, every field is validated
on its own, and the edited brief is validated as a whole before use. Values the user set explicitly
(provenance ``user``) are kept. When no model is configured, or the answer is unusable, the rule-based
refiner :func:`weavewave.bridge.refine.refine` does the work instead.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from weavewave.brief import Key, MusicBrief, Provenance
from weavewave.errors import BadInputError

if TYPE_CHECKING:
    from weavewave.neural.models import ModelCache

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You edit music briefs for a composer. You change only what the instruction asks for, keep "
    "everything else, and answer with JSON only."
)
USER_PROMPT = (
    "Brief:\n{brief}\n\nInstruction: {instruction}\n\nReturn the edited brief as one JSON object with "
    "the same keys. Rewrite the caption and every section caption so they describe the music after "
    "the change. Keep tempo_bpm between 30 and 300, energy and the section energies between 0 and 1, "
    "valence and arousal between -1 and 1."
)
MAX_NEW_TOKENS = 640
EDITABLE = (
    "caption",
    "tempo_bpm",
    "key",
    "genre",
    "valence",
    "arousal",
    "mood_tags",
    "energy",
    "instruments",
    "sections",
)
# brief fields whose provenance says the user set them: the refiner leaves them alone
USER_LOCKED = ("tempo_bpm", "key", "genre", "instruments")


@dataclass
class Refinement:
    """The refined brief and how it was made."""

    brief: MusicBrief
    used: str  # "llm" or "rules"
    changed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    answer: str = ""


def editable_view(brief: MusicBrief) -> dict[str, Any]:
    """What the model may change, as plain JSON."""
    return {
        "caption": brief.caption,
        "tempo_bpm": brief.tempo_bpm,
        "key": str(brief.key),
        "genre": brief.genre,
        "valence": brief.mood.valence,
        "arousal": brief.mood.arousal,
        "mood_tags": brief.mood.tags,
        "energy": brief.energy,
        "instruments": brief.instruments,
        "sections": [{"label": s.label, "energy": s.energy, "caption": s.caption} for s in brief.sections],
    }


def _unit(value: Any, lo: float, hi: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        v = float(value)
    except ValueError:
        return None
    return round(v, 3) if lo <= v <= hi else None


def _validated_fields(brief: MusicBrief, edit: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Each field of the model's answer checked on its own: kept if valid and different, else reported."""
    from weavewave.music.instruments import resolve_instrument
    from weavewave.music.styles import resolve_genre
    from weavewave.music.theory import parse_key
    from weavewave.perceive.mllm import clean_caption, word_list

    good: dict[str, Any] = {}
    problems: list[str] = []
    view = editable_view(brief)

    def keep(name: str, value: Any) -> None:
        if value is None:
            problems.append(f"{name} {str(edit.get(name))[:40]!r} is not valid")
        elif value != view[name]:
            good[name] = value

    if "caption" in edit:
        keep("caption", clean_caption(edit["caption"]))
    if "tempo_bpm" in edit:
        keep("tempo_bpm", _unit(edit["tempo_bpm"], 30.0, 300.0))
    for name in ("valence", "arousal"):
        if name in edit:
            keep(name, _unit(edit[name], -1.0, 1.0))
    if "energy" in edit:
        keep("energy", _unit(edit["energy"], 0.0, 1.0))
    if "key" in edit:
        try:
            keep("key", str(parse_key(str(edit["key"]))))
        except (BadInputError, ValueError):
            keep("key", None)
    if "genre" in edit:
        try:
            keep("genre", resolve_genre(str(edit["genre"])))
        except (BadInputError, ValueError):
            keep("genre", None)
    if "mood_tags" in edit:
        keep(
            "mood_tags", [w for w in word_list(edit["mood_tags"]) if w.replace(" ", "").isalpha()][:6] or None
        )
    if "instruments" in edit:
        try:
            names = list(dict.fromkeys(resolve_instrument(n) for n in word_list(edit["instruments"])))
            keep("instruments", names or None)
        except (BadInputError, ValueError) as exc:
            problems.append(f"instruments: {exc}")
    if isinstance(edit.get("sections"), list):
        sections = []
        for i, s in enumerate(brief.sections):
            new = edit["sections"][i] if i < len(edit["sections"]) else None
            caption = clean_caption(new.get("caption")) if isinstance(new, dict) else None
            energy = _unit(new.get("energy"), 0.0, 1.0) if isinstance(new, dict) else None
            sections.append(
                {"caption": caption or s.caption, "energy": s.energy if energy is None else energy}
            )
        if any(
            a["caption"] != b.caption or a["energy"] != b.energy
            for a, b in zip(sections, brief.sections, strict=True)
        ):
            good["sections"] = sections
    return good, problems


def apply_edit(
    brief: MusicBrief, edit: dict[str, Any], *, model: str, instruction: str
) -> tuple[MusicBrief, list[str], list[str]]:
    """The brief with the valid parts of the edit applied, the changed fields, and the problems.

    Raises BadInputError when the edited brief does not validate as a whole.
    """
    good, problems = _validated_fields(brief, edit)
    for name in USER_LOCKED:
        if name in good and brief.provenance.get(name) and brief.provenance[name].source == "user":
            problems.append(f"{name} was set explicitly, so the refiner kept it")
            del good[name]
    if not good:
        return brief, [], problems
    data = brief.to_dict()
    for name in ("caption", "tempo_bpm", "genre", "energy", "instruments"):
        if name in good:
            data[name] = good[name]
    if "key" in good:
        k = Key(tonic=good["key"].split()[0], mode=good["key"].split()[1])
        data["key"] = k.model_dump()
    for name, target in (("valence", "valence"), ("arousal", "arousal"), ("mood_tags", "tags")):
        if name in good:
            data["mood"][target] = good[name]
    if "sections" in good:
        for s, new in zip(data["sections"], good["sections"], strict=True):
            s.update(new)
    reason = f"rewritten by the LLM refiner ({model}) for the instruction {instruction.strip()[:80]!r}"
    prov_names = {"valence": "mood.valence", "arousal": "mood.arousal", "mood_tags": "mood.tags"}
    for name in good:
        data["provenance"][prov_names.get(name, name)] = Provenance(
            source="instruction", reason=reason
        ).model_dump()
    data["provenance"] = dict(sorted(data["provenance"].items()))
    refined = MusicBrief.from_dict(data, origin="the refined brief")
    return refined, sorted(good), problems


def parse_edit(text: str) -> dict[str, Any] | None:
    """The JSON object in the model's answer with at least one editable key, salvaged; else None."""
    from weavewave.neural.chat_json import json_objects

    return next((data for data in json_objects(text) if any(k in data for k in EDITABLE)), None)


# ======================================================================================================
@dataclass
class TextBundle:
    model: Any
    tokenizer: Any
    ref: str
    device: str

    def __repr__(self) -> str:
        return f"TextBundle({self.ref!r} on {self.device})"


def load_refiner(
    ref: str, *, device: str = "auto", dtype: str = "auto", cache: ModelCache | None = None
) -> TextBundle:
    from weavewave.neural.models import load_once

    return load_once("refiner", ref, _load_refiner, device=device, dtype=dtype, cache=cache)


def _load_refiner(ref: str, device: str, torch_dtype: Any) -> TextBundle:
    return load_instruct(ref, device, torch_dtype, flag="--refiner-model", role="refiner")


def load_instruct(ref: str, device: str, torch_dtype: Any, *, flag: str, role: str) -> TextBundle:
    """An instruct causal LM and its tokenizer (with a chat template) for ``role``; errors name ``flag``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from weavewave.neural.models import check_tokenizer, from_pretrained, quiet_transformers

    quiet_transformers()
    tokenizer = from_pretrained(AutoTokenizer.from_pretrained, ref, role)
    try:
        model = from_pretrained(AutoModelForCausalLM.from_pretrained, ref, role, dtype=torch_dtype)
    except ValueError as exc:
        raise BadInputError(
            f"{ref} is not a text generation model: pass an instruct model to {flag}, "
            f"e.g. Qwen/Qwen2.5-1.5B-Instruct ({exc})"
        ) from None
    check_tokenizer(tokenizer, ref, vocab_size=model.get_input_embeddings().num_embeddings)
    if getattr(tokenizer, "chat_template", None) is None:
        raise BadInputError(
            f"{ref} has no chat template, so it is not an instruct model: use an '-Instruct' model"
        )
    model.to(device).eval()
    return TextBundle(model=model, tokenizer=tokenizer, ref=ref, device=device)


def ask_refiner(
    bundle: TextBundle, brief: MusicBrief, instruction: str, *, max_new_tokens: int = MAX_NEW_TOKENS
) -> str:
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {
            "role": "user",
            "content": USER_PROMPT.format(
                brief=json.dumps(editable_view(brief), indent=1), instruction=instruction.strip()
            ),
        },
    ]
    return ask_chat(bundle, messages, max_new_tokens=max_new_tokens)


def ask_chat(bundle: TextBundle, messages: list[dict[str, str]], *, max_new_tokens: int) -> str:
    """The model's greedy answer to a chat (``messages``), decoded without special tokens."""
    import torch

    inputs = bundle.tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    inputs = {k: v.to(bundle.device) for k, v in inputs.items()}
    with torch.inference_mode():
        out = bundle.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return bundle.tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()


def rule_refine(brief: MusicBrief, instruction: str) -> MusicBrief:
    """The rule-based refiner (the fallback when no model edit is usable)."""
    from weavewave.bridge.refine import refine

    return refine(brief, instruction)


def refine_with_report(
    brief: MusicBrief,
    instruction: str,
    *,
    model: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    cache: ModelCache | None = None,
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> Refinement:
    """Refine with the LLM when a model is given, falling back to the rules; says which was used."""
    if not instruction or not instruction.strip():
        raise BadInputError("the instruction is empty: say how to change the music, e.g. 'more energetic'")
    if model is None:
        return Refinement(rule_refine(brief, instruction), "rules", problems=["no refiner model configured"])
    bundle = load_refiner(model, device=device, dtype=dtype, cache=cache)
    answer = ask_refiner(bundle, brief, instruction, max_new_tokens=max_new_tokens)
    edit = parse_edit(answer)
    problems: list[str] = []
    if edit is None:
        problems.append("the model's answer held no JSON brief")
    else:
        try:
            refined, changed, problems = apply_edit(brief, edit, model=model, instruction=instruction)
        except BadInputError as exc:
            problems.append(f"the edited brief is invalid: {exc}")
        else:
            if changed:
                return Refinement(refined, "llm", changed, problems, answer)
            problems.append("the model changed nothing")
    logger.info("LLM refiner fell back to the rules: %s", "; ".join(problems))
    return Refinement(rule_refine(brief, instruction), "rules", problems=problems, answer=answer)


def refine(
    brief: MusicBrief,
    instruction: str,
    *,
    model: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    cache: ModelCache | None = None,
) -> MusicBrief:
    """Rewrite the brief and its section captions from an instruction (see the module docstring)."""
    return refine_with_report(brief, instruction, model=model, device=device, dtype=dtype, cache=cache).brief
