"""The ``musicgen`` backend: MusicGen and MusicGen-Melody through transformers, brief in, Track out.

- Text conditioning: each block of audio is generated from the brief's caption plus the caption of the
  section it falls in.
- Melody conditioning (MusicGen-Melody): a one-hot chroma from a reference recording (``melody=PATH``) or
  from our own symbolic composition of the brief rendered without drums and bass
  (``steer="symbolic"``), which holds the neural audio to the brief's tempo, key and harmony. The chroma
  is computed in :mod:`weavewave.generators.musicgen.chroma` (the transformers extractor needs torchaudio).
- Long form: pieces longer than one window are generated block by block. Each block after the first is
  prompted with the last ``prompt_s`` seconds of the audio so far (encoded back to EnCodec codes) and
  continues from there. The decoded block repeats the prompt, so exactly ``prompt frames * hop``
  samples are dropped from its start; the last ``crossfade_s`` of the prompt region is crossfaded with
  the audio it repeats, so the seam is smooth and no second of music is played twice.
- Decoding: by default (``decoder="auto"``) the codes come from the fast loop in
  :mod:`weavewave.generators.musicgen.fast` (static KV cache, conditioning computed once, guidance rows in
  one forward pass), which gives ``generate``'s codes under greedy decoding and draws the same samples
  from the same seed; ``decoder="stock"`` uses ``model.generate``. Mono and stereo models alike (stereo
  MusicGen interleaves left and right codebooks; both paths delay each channel's codebooks the same way).
- The result is resampled to 48 kHz stereo and mastered like every other track (-14 LUFS, true peak
  at most -1 dBTP). In steered mode the Track also carries the arrangement, so ``music.mid`` is written.
- Loops (``brief.loop``): the model plays ``LOOP_CROSSFADE_S`` past the end, and that continuation is
  crossfaded over the start, so the last sample flows into the first; the master has no fades.
- References (``brief.references``, lent from the user's library): the first one conditions the music,
  as ``reference_as`` says: ``melody`` (MusicGen-Melody follows its chroma, as ``melody=PATH`` would),
  ``prompt`` (its loudest ``prompt_s`` seconds are the audio prompt of the first window, which the music
  continues; the excerpt itself is not in the output), ``none``, or ``auto`` (melody with a melody model,
  else prompt; none when ``melody`` or ``steer`` already set the melody). The brief records which
  reference and how (``generator.files["reference"]``, provenance ``generator.reference``) and its caption
  says so; that sentence is left out of the text the model reads, so ``generate --brief`` makes the same
  piece again.
- What it cannot honour it refuses before any work (the generator contract): a video's cues and tempo
  map (the audio is not written on a beat grid), stems, and a reference tune's melody or chords unless it
  is steered (``steer="symbolic"`` composes with them) or conditioned on the recording (``melody``).

torch and transformers are imported inside functions.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import AliasChoices, Field

from weavewave.errors import BadInputError
from weavewave.generators import ProgressFn, Track
from weavewave.generators.contract import (
    Capabilities,
    GeneratorOptions,
    check_brief,
    check_recorded_file,
    file_digest,
    record_generator,
)

if TYPE_CHECKING:
    from weavewave.brief import GeneratorRecord, MusicBrief
    from weavewave.music.arrangement import Arrangement
    from weavewave.neural.models import ModelCache

STEER_MODES = ("none", "symbolic")
DEFAULT_WINDOW_S = 30.0  # what MusicGen was trained on
DEFAULT_PROMPT_S = 10.0
DEFAULT_CROSSFADE_S = 0.25
# Parts left out of the steering rendering: the melody conditioner of MusicGen-Melody was trained on
# recordings with drums and bass separated out.
UNSTEERED_ROLES = ("drums", "bass")
MAX_TOP_K = 2048
DECODERS = ("auto", "fast", "stock")
# A loop's seam: the model plays this far past the end, and that continuation fades in over the start
# (long enough to hide the change of material, short against a loop of a few bars).
LOOP_CROSSFADE_S = 0.5
REFERENCE_USES = ("auto", "melody", "prompt", "none")
EXCERPT_HOP_S = 0.5  # the reference excerpt (an audio prompt) starts on this grid, at the loudest stretch
# What the caption says MusicGen took from the first reference (and the pattern that keeps it out of the text
# the model reads).
REFERENCE_NOTES = {
    "melody": " MusicGen-Melody follows the melody of your track '{title}'.",
    "prompt": " MusicGen continues an excerpt of your track '{title}' ({start:g}-{end:g} s).",
}
_REFERENCE_NOTE_RE = re.compile(
    r" MusicGen(?:-Melody follows the melody of| continues an excerpt of) your track '.*?'(?: \([0-9.]+-[0-9.]+ s\))?\."
)


@dataclass(frozen=True)
class Sampling:
    """How tokens are drawn. ``temperature=0`` is greedy decoding."""

    top_k: int = 250
    top_p: float = 0.0
    temperature: float = 1.0
    guidance_scale: float = 3.0

    def validated(self) -> Sampling:
        if not 0 <= self.top_k <= MAX_TOP_K:
            raise BadInputError(f"top-k {self.top_k} is out of range: use 0 (off) to {MAX_TOP_K}")
        if not 0.0 <= self.top_p <= 1.0:
            raise BadInputError(f"top-p {self.top_p:g} is out of range: use 0 (off) to 1")
        if not 0.0 <= self.temperature <= 5.0:
            raise BadInputError(f"temperature {self.temperature:g} is out of range: use 0 (greedy) to 5")
        if not 0.0 <= self.guidance_scale <= 20.0:
            raise BadInputError(
                f"guidance {self.guidance_scale:g} is out of range: use 0 to 20 (1 or less: "
                "no classifier-free guidance)"
            )
        return self

    def generate_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"guidance_scale": self.guidance_scale if self.guidance_scale > 1 else None}
        if self.temperature == 0:
            kw["do_sample"] = False
        else:
            kw.update(
                do_sample=True,
                temperature=self.temperature,
                top_k=self.top_k or None,
                top_p=self.top_p if 0 < self.top_p < 1 else None,
            )
        return kw


@dataclass
class MusicgenBundle:
    """A loaded MusicGen: the model, its tokenizer, and the numbers the windowing needs."""

    model: Any
    tokenizer: Any
    ref: str
    device: str
    dtype: Any
    sample_rate: int
    frame_rate: int
    num_codebooks: int
    audio_channels: int
    is_melody: bool
    chroma_length: int | None
    adapter: str | None = None  # the LoRA adapter folder merged into ``model``, if any

    @property
    def hop(self) -> int:
        """Audio samples per codec frame."""
        return self.sample_rate // self.frame_rate

    def __repr__(self) -> str:
        kind = "MusicGen-Melody" if self.is_melody else "MusicGen"
        return f"MusicgenBundle({kind} {self.ref!r} on {self.device}, {self.dtype}, {self.sample_rate} Hz)"


def load_musicgen(
    ref: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    cache: ModelCache | None = None,
    adapter: str | Path | None = None,
) -> MusicgenBundle:
    """Load a MusicGen or MusicGen-Melody (hub id or folder) once per cache.

    ``adapter``: a LoRA adapter folder (``weavewave train musicgen``) merged into the weights; refused with
    one line when it was trained on a model of another architecture.
    """
    from weavewave.neural.models import load_once

    if adapter is None:
        return load_once("musicgen", ref, _load, device=device, dtype=dtype, cache=cache)
    from weavewave.train.adapter import read_meta, weights_digest

    read_meta(adapter)  # not an adapter: say so before loading anything
    # the weights' hash is in the key: an adapter trained again in the same folder is loaded again
    kind = f"musicgen+lora:{Path(adapter).expanduser().resolve()}:{weights_digest(adapter).sha256[:16]}"
    return load_once(
        kind,
        ref,
        lambda r, d, t: _load_with_adapter(r, d, t, adapter),
        device=device,
        dtype=dtype,
        cache=cache,
    )


def _load_with_adapter(ref: str, device: str, torch_dtype: Any, adapter: str | Path) -> MusicgenBundle:
    """The base model with the adapter's LoRA weights merged in (so every decoding path runs unchanged)."""
    from weavewave._deps import require
    from weavewave.train.adapter import check_base

    peft = require("peft", "train", "--adapter")
    b = _load(ref, device, torch_dtype)
    check_base(adapter, ref, b.model.config)
    import warnings

    with warnings.catch_warnings():  # peft 0.21 asks transformers 5 a deprecated question; nothing to act on
        warnings.simplefilter("ignore", FutureWarning)
        merged = peft.PeftModel.from_pretrained(b.model, str(adapter)).merge_and_unload()
    merged.to(device).eval()
    return replace(b, model=merged, adapter=str(adapter))


def load_musicgen_model(ref: str, torch_dtype: Any = None) -> tuple[Any, Any, bool]:
    """A MusicGen or MusicGen-Melody model (hub id or folder), its checked tokenizer, and whether it is a
    melody model; anything else is refused with one line. Used by generation and by LoRA training."""
    from transformers import (
        AutoConfig,
        AutoTokenizer,
        MusicgenForConditionalGeneration,
        MusicgenMelodyForConditionalGeneration,
    )

    from weavewave.neural.models import check_tokenizer, from_pretrained, quiet_transformers

    quiet_transformers()
    config = from_pretrained(AutoConfig.from_pretrained, ref, "generator")
    kind = getattr(config, "model_type", "")
    cls: type[MusicgenMelodyForConditionalGeneration] | type[MusicgenForConditionalGeneration]
    if kind == "musicgen_melody":
        cls = MusicgenMelodyForConditionalGeneration
    elif kind == "musicgen":
        cls = MusicgenForConditionalGeneration
    else:
        raise BadInputError(
            f"{ref} is a {kind or 'unknown'} model, not MusicGen: pass a MusicGen model to "
            "--model, e.g. facebook/musicgen-small (see `weavewave models`)"
        )
    extra = {} if torch_dtype is None else {"dtype": torch_dtype}
    model = from_pretrained(cls.from_pretrained, ref, "generator", **extra)
    tokenizer = from_pretrained(AutoTokenizer.from_pretrained, ref, "generator")
    check_tokenizer(tokenizer, ref, vocab_size=model.config.text_encoder.vocab_size)
    return model, tokenizer, kind == "musicgen_melody"


def _load(ref: str, device: str, torch_dtype: Any) -> MusicgenBundle:
    from weavewave.generators.musicgen.fast import audio_channels

    model, tokenizer, is_melody = load_musicgen_model(ref, torch_dtype)
    model.to(device).eval()
    audio_cfg = model.config.audio_encoder
    return MusicgenBundle(
        model=model,
        tokenizer=tokenizer,
        ref=ref,
        device=device,
        dtype=torch_dtype,
        sample_rate=int(audio_cfg.sampling_rate),
        frame_rate=int(audio_cfg.frame_rate),
        num_codebooks=int(model.decoder.config.num_codebooks),
        audio_channels=audio_channels(model),
        is_melody=is_melody,
        chroma_length=getattr(model.config, "chroma_length", None),
    )


@dataclass(frozen=True)
class Block:
    """One generated window, in codec frames: it continues ``prompt`` frames and adds ``new`` frames."""

    start: int  # first new frame
    new: int
    prompt: int

    @property
    def end(self) -> int:
        return self.start + self.new


def plan_blocks(
    total_frames: int, window_frames: int, prompt_frames: int, *, first_prompt: int = 0
) -> list[Block]:
    """Windows covering ``total_frames``: the first fills a window (after ``first_prompt`` frames of a
    reference excerpt it continues), each later one continues the last ``prompt_frames`` and adds at most
    ``window_frames - prompt_frames`` new ones."""
    if total_frames <= 0:
        return []
    blocks = [Block(0, min(window_frames - first_prompt, total_frames), first_prompt)]
    while blocks[-1].end < total_frames:
        done = blocks[-1].end
        prompt = min(prompt_frames, done)
        blocks.append(Block(done, min(window_frames - prompt, total_frames - done), prompt))
    return blocks


def _crossfade(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Raised-cosine fade-out and fade-in that sum to one: the two sides are decodings of the same codes,
    so they are correlated and an equal-gain crossfade keeps the level."""
    if n <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    fade_in = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)
    return 1.0 - fade_in, fade_in


def _alias(public: str, constructor: str) -> Any:
    """A field named ``public`` (as the CLI and request call it) that the constructor calls ``constructor``."""
    return {"validation_alias": AliasChoices(public, constructor), "serialization_alias": constructor}


class MusicgenOptions(GeneratorOptions):
    """Options of the ``musicgen`` backend (ranges are checked by the generator, with one-line errors)."""

    model: str | None = Field(None, description="hub id or folder (default: musicgen-small, or -melody)")
    adapter: str | Path | None = Field(
        None, description="LoRA adapter folder from `weavewave train musicgen`"
    )
    steer: str | None = Field(None, description="'symbolic': condition on the chroma of our composition")
    melody: str | Path | None = Field(None, description="a recording whose chroma conditions the music")
    top_k: int = 250
    top_p: float = 0.0
    temperature: float = Field(1.0, description="0 decodes greedily")
    guidance: float = Field(
        3.0, description="classifier-free guidance scale", **_alias("guidance", "guidance_scale")
    )
    window: float = Field(
        DEFAULT_WINDOW_S, description="seconds per generated window", **_alias("window", "window_s")
    )
    prompt_seconds: float | None = Field(
        None,
        description="seconds of audio each later window continues",
        **_alias("prompt_seconds", "prompt_s"),
    )
    crossfade: float = Field(DEFAULT_CROSSFADE_S, **_alias("crossfade", "crossfade_s"))
    device: str = "auto"
    dtype: str = "auto"
    decoder: str = "auto"
    reference_as: str = Field(
        "auto", description="how the first library reference conditions the music: auto, melody, prompt, none"
    )
    soundfont: str | Path | None = Field(None, description="SoundFont of the steering rendering")
    cache: Any = Field(None, description="a ModelCache to share loaded models", exclude=True)


@dataclass
class MusicgenGenerator:
    """Brief in, Track out, with MusicGen.

    Parameters
    ----------
    model : hub id or folder (default ``facebook/musicgen-small``; ``facebook/musicgen-melody`` when
        melody conditioning is asked for).
    adapter : a LoRA adapter folder made by ``weavewave train musicgen`` for ``model``; merged into it.
    device, dtype : ``auto`` or a named one (``cpu``/``cuda``/``mps``; ``fp32``/``bf16``/``fp16``).
    top_k, top_p, temperature, guidance_scale : sampling; ``temperature=0`` decodes greedily.
    steer : ``"symbolic"`` conditions MusicGen-Melody on the chroma of our own composition of the brief.
    melody : a recording whose chroma conditions MusicGen-Melody.
    window_s, prompt_s, crossfade_s : long-form windowing (see the module docstring).
    soundfont : SoundFont for the steering rendering.
    decoder : ``auto`` (the fast loop where it applies, else ``generate``), ``fast`` or ``stock``.
    reference_as : how the brief's first reference conditions the music: ``melody``, ``prompt`` (an
        excerpt to continue), ``none`` or ``auto`` (see the module docstring).
    cache : a :class:`~weavewave.neural.models.ModelCache` to share loaded models (default: the process's).
    """

    model: str | None = None
    adapter: str | Path | None = None
    device: str = "auto"
    dtype: str = "auto"
    top_k: int = 250
    top_p: float = 0.0
    temperature: float = 1.0
    guidance_scale: float = 3.0
    steer: str | None = None
    melody: str | Path | None = None
    window_s: float = DEFAULT_WINDOW_S
    prompt_s: float | None = None  # default: DEFAULT_PROMPT_S, at most a third of the window
    crossfade_s: float = DEFAULT_CROSSFADE_S
    soundfont: str | Path | None = None
    decoder: str = "auto"
    reference_as: str = "auto"
    cache: ModelCache | None = field(default=None, repr=False)
    name: str = field(default="musicgen", init=False)

    # The backend at most; an instance narrows it by its options (``__post_init__``): MIDI and a kept
    # reference tune need the steering composition, melody conditioning a melody model.
    capabilities: ClassVar[Capabilities] = Capabilities(
        midi=True, stems=False, loop=True, timeline=False, melody=True, reference=True
    )
    Options: ClassVar[type[GeneratorOptions]] = MusicgenOptions

    def __post_init__(self) -> None:
        steer = (self.steer or "none").lower()
        if steer not in STEER_MODES:
            raise BadInputError(f"unknown steer mode {self.steer!r}: use {' or '.join(STEER_MODES)}")
        self.steer = steer
        if steer == "symbolic" and self.melody is not None:
            raise BadInputError(
                "--steer symbolic and a melody recording both set the melody: use one of them"
            )
        if self.melody is not None and not Path(self.melody).is_file():
            raise BadInputError(f"melody file not found: {self.melody}; check the path")
        self.reference_as = (self.reference_as or "auto").lower()
        if self.reference_as not in REFERENCE_USES:
            raise BadInputError(
                f"unknown reference_as {self.reference_as!r}: use {', '.join(REFERENCE_USES)}"
            )
        if self.reference_as == "melody" and (steer == "symbolic" or self.melody is not None):
            raise BadInputError(
                "--reference-as melody and "
                + ("--steer symbolic" if steer == "symbolic" else "a melody recording")
                + " both set the melody: use one of them"
            )
        self.decoder = (self.decoder or "auto").lower()
        if self.decoder not in DECODERS:
            raise BadInputError(f"unknown decoder {self.decoder!r}: use {', '.join(DECODERS)}")
        self.sampling = Sampling(self.top_k, self.top_p, self.temperature, self.guidance_scale).validated()
        if not 1.0 <= self.window_s <= 60.0:
            raise BadInputError(
                f"window {self.window_s:g} s is out of range: use 1 to 60 s (MusicGen was trained on 30 s)"
            )
        if self.prompt_s is None:
            self.prompt_s = min(DEFAULT_PROMPT_S, self.window_s / 3)
            self.crossfade_s = min(self.crossfade_s, self.prompt_s)
        if not 0.0 < self.prompt_s < self.window_s:
            raise BadInputError(
                f"prompt {self.prompt_s:g} s must be more than 0 and shorter than the window "
                f"({self.window_s:g} s)"
            )
        if not 0.0 <= self.crossfade_s <= self.prompt_s:
            raise BadInputError(
                f"crossfade {self.crossfade_s:g} s must be between 0 and the prompt ({self.prompt_s:g} s)"
            )
        if self.model is None:
            from weavewave.neural.models import DEFAULT_MELODY_MODEL, DEFAULT_MODEL

            melodic = steer == "symbolic" or self.melody is not None
            self.model = DEFAULT_MELODY_MODEL if melodic else DEFAULT_MODEL["generator"]
        from weavewave.neural.models import locate

        locate(str(self.model), "generator")  # a missing model fails now, before any work
        if self.adapter is not None:  # likewise a folder that is not an adapter, or one made for another base
            from transformers import AutoConfig

            from weavewave.neural.models import from_pretrained, quiet_transformers
            from weavewave.train.adapter import check_base

            quiet_transformers()
            check_base(self.adapter, str(self.model), from_pretrained(AutoConfig.from_pretrained, str(self.model),
                                                                      "generator"))  # fmt: skip
        steered = steer == "symbolic"
        # an instance attribute: shadows the class's declaration for this generator only
        self.capabilities = replace(  # type: ignore[misc]
            type(self).capabilities, midi=steered, reference=steered or self.melody is not None
        )

    def bundle(self) -> MusicgenBundle:
        """The loaded model (loaded on first call, then shared through the cache)."""
        b = load_musicgen(
            str(self.model), device=self.device, dtype=self.dtype, cache=self.cache, adapter=self.adapter
        )
        if (self.steer == "symbolic" or self.melody is not None) and not b.is_melody:
            what = "--steer symbolic" if self.steer == "symbolic" else "a melody recording"
            raise BadInputError(
                f"{what} needs a MusicGen-Melody model, and {self.model} is not one: pass "
                "--model facebook/musicgen-melody (or a local copy)"
            )
        if self.decoder == "fast" and not _fast_applies(b):
            raise BadInputError(
                f"--decoder fast handles mono and stereo MusicGen models, and {self.model} has "
                f"{b.audio_channels} audio channels: use --decoder auto or stock"
            )
        return b

    def decoder_for(self, b: MusicgenBundle) -> str:
        """The decoding path used for ``b``: ``fast`` or ``stock``."""
        if self.decoder == "stock" or not _fast_applies(b):
            return "stock"
        return "fast"

    # --------------------------------------------------------------------------------------------------
    def reference_use(self, brief: MusicBrief) -> str:
        """How the brief's first reference conditions the music: ``melody``, ``prompt`` or ``none``."""
        if not brief.references or self.reference_as == "none":
            return "none"
        if self.reference_as != "auto":
            return self.reference_as
        if self.steer == "symbolic" or self.melody is not None:
            return "none"  # the melody is set already; an explicit reference_as=prompt may still add one
        return "melody" if _is_melody_model(str(self.model)) else "prompt"

    def generate(self, brief: MusicBrief, *, progress: ProgressFn | None = None) -> Track:
        use = self.reference_use(brief)
        capabilities = self.capabilities
        if use != "none":  # the reference's own recording conditions the music: its kept chords are honoured
            capabilities = replace(capabilities, reference=True)
            _check_reference_file(brief.references[0])
        check_brief(brief, capabilities, backend=self.name, hints=REFUSAL_HINTS)
        report = progress or (lambda fraction, message: None)
        report(0.0, f"loading {self.model}")
        b = self.bundle()
        if use == "melody" and not b.is_melody:
            raise BadInputError(
                f"--reference-as melody needs a MusicGen-Melody model, and {self.model} is not one: pass "
                "--model facebook/musicgen-melody (or a local copy), or --reference-as prompt"
            )
        arrangement, chroma = None, None
        if self.steer == "symbolic":
            report(0.02, "composing the steering melody")
            arrangement, chroma = steering_chroma(brief, soundfont=self.soundfont)
        elif self.melody is not None:
            chroma = reference_chroma(self.melody)
        ref = brief.references[0] if use != "none" else None
        excerpt, span = None, None
        if ref is not None and use == "melody":
            chroma = reference_chroma(ref.path)
        elif ref is not None:
            assert self.prompt_s is not None  # set in __post_init__
            excerpt, span = reference_excerpt(ref.path, b, self.prompt_s)
        # the model reads the caption without the sentence that says how the reference was used
        read = brief.model_copy(update={"caption": _REFERENCE_NOTE_RE.sub("", brief.caption)})
        # a loop plays on past its end: that continuation is folded over the start
        seam_s = LOOP_CROSSFADE_S if brief.loop else 0.0
        audio, windows = self._generate_audio(
            b, read, chroma, lambda f, m: report(0.05 + 0.85 * f, m), extra_s=seam_s, excerpt=excerpt
        )
        report(0.92, "mastering")
        from weavewave.dsp.master import SAMPLE_RATE, master_model_audio

        master, stats = master_model_audio(
            audio, b.sample_rate, brief.duration_s, loop=brief.loop, seam_s=seam_s
        )
        options = self.record_options(b)
        stats.update(
            generator="musicgen",
            model=b.ref,
            device=b.device,
            dtype=str(b.dtype).removeprefix("torch."),
            sampling=asdict(self.sampling),
            steer=self.steer,
            melody=Path(self.melody).name if self.melody is not None else None,
            windows=windows,
            decoder=options["decoder"],
        )
        files = {"melody": file_digest(self.melody)} if self.melody is not None else {}
        if self.adapter is not None:
            from weavewave.train.adapter import weights_digest

            files["adapter"] = weights_digest(self.adapter)
            stats["adapter"] = str(self.adapter)
        made = brief
        if ref is not None:
            files["reference"] = file_digest(ref.path)
            made, stats["reference"] = _note_reference(read, ref, use, span)
        report(1.0, "mastered")
        return Track(
            audio=master,
            sample_rate=SAMPLE_RATE,
            brief=record_generator(made, self.name, options, files),
            arrangement=arrangement,
            stats=stats,
        )

    def record_options(self, b: MusicgenBundle) -> dict[str, Any]:
        """The options that change the sound, by their public names, as the brief records them."""
        return {
            "model": b.ref,
            "decoder": self.decoder_for(b),
            "steer": self.steer,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "temperature": self.temperature,
            "guidance": self.guidance_scale,
            "window": self.window_s,
            "prompt_seconds": self.prompt_s,
            "crossfade": self.crossfade_s,
            "dtype": self.dtype,
            "reference_as": self.reference_as,
        } | ({"adapter": str(self.adapter)} if self.adapter is not None else {})

    @staticmethod
    def options_from_record(record: GeneratorRecord, given: dict[str, Any]) -> dict[str, Any]:
        """Options that make a recorded brief again; the melody recording must be given again."""
        check_recorded_file(record.files, "melody", given.get("melody"), "--melody")
        options = {**record.options, **given}
        want = record.files.get("adapter")
        if want is not None and options.get("adapter") is not None and "adapter" not in given:
            from weavewave.train.adapter import weights_digest

            have = (
                weights_digest(options["adapter"])
                if Path(str(options["adapter"]), "adapter_model.safetensors").is_file()
                else None
            )
            if have is None or have.sha256 != want.sha256:
                raise BadInputError(
                    f"this brief was made with the adapter {options['adapter']} (weights sha256 {want.sha256[:12]}…), "
                    "which is missing or has changed: pass the adapter with --adapter DIR"
                )
        return options

    def _generate_audio(
        self,
        b: MusicgenBundle,
        brief: MusicBrief,
        chroma: np.ndarray | None,
        report: ProgressFn,
        *,
        extra_s: float = 0.0,
        excerpt: np.ndarray | None = None,
    ) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Codec-rate audio [shape=(channels, n)] covering the brief (and ``extra_s`` more), block by block;
        ``excerpt`` [shape=(channels, frames * hop)] is the first window's audio prompt (not in the output)."""
        total = int(math.ceil((brief.duration_s + extra_s) * b.frame_rate))
        window = int(round(self.window_s * b.frame_rate))
        assert self.prompt_s is not None  # set in __post_init__
        prompt = max(1, int(round(self.prompt_s * b.frame_rate)))
        first = 0 if excerpt is None else excerpt.shape[1] // b.hop
        blocks = plan_blocks(total, window, prompt, first_prompt=first)
        hop = b.hop
        out = np.zeros((b.audio_channels, total * hop), np.float32)
        windows = []
        for i, block in enumerate(blocks):
            report(i / len(blocks), f"window {i + 1}/{len(blocks)}")
            caption = block_caption(brief, block.start / b.frame_rate, block.end / b.frame_rate)
            prompt_audio = (
                out[:, (block.start - block.prompt) * hop : block.start * hop] if block.prompt else None
            )
            if i == 0 and excerpt is not None:
                prompt_audio = excerpt
            features = None
            if chroma is not None:
                features = chroma_for(
                    chroma, max(0, block.start - block.prompt) / b.frame_rate, block.end / b.frame_rate
                )
            decoded = generate_block(
                b,
                caption,
                block.new,
                prompt_audio=prompt_audio,
                chroma=features,
                sampling=self.sampling,
                seed=(brief.seed + 7919 * i) % 2**32,
                decoder=self.decoder_for(b),
            )
            # the reference excerpt precedes the piece: nothing of the piece is there to fade into
            fade = 0 if block.start == 0 else int(round(self.crossfade_s * b.sample_rate))
            _place(out, decoded, block, hop, fade)
            windows.append(
                {
                    "start_s": round(block.start / b.frame_rate, 4),
                    "end_s": round(block.end / b.frame_rate, 4),
                    "prompt_s": round(block.prompt / b.frame_rate, 4),
                    "caption": caption,
                }
            )
        report(1.0, "generated")
        return out, windows


# What to do instead, with this backend's own options, when a brief asks for what it cannot honour.
REFUSAL_HINTS = {
    "reference": "pass the tune as --melody {source} or add --steer symbolic",
}


def _place(out: np.ndarray, decoded: np.ndarray, block: Block, hop: int, crossfade: int) -> None:
    """Write a decoded block [shape=(channels, (prompt + new) * hop)] into ``out``.

    The first ``prompt * hop`` samples repeat audio already in ``out``: they are dropped, except the
    last ``crossfade`` of them, which fade into the audio they repeat.
    """
    skip = block.prompt * hop
    seam = block.start * hop
    new = decoded[:, skip : skip + block.new * hop]
    if new.shape[1] < block.new * hop:
        raise RuntimeError(
            f"the model returned {decoded.shape[1]} samples, fewer than the "
            f"{(block.prompt + block.new) * hop} asked for"
        )
    out[:, seam : seam + new.shape[1]] = new
    n = min(crossfade, skip)
    if n:
        fade_out, fade_in = _crossfade(n)
        out[:, seam - n : seam] = out[:, seam - n : seam] * fade_out + decoded[:, skip - n : skip] * fade_in


def block_caption(brief: MusicBrief, start_s: float, end_s: float) -> str:
    """The brief's caption plus the caption of the section that covers most of ``[start_s, end_s)``."""
    best, overlap = None, 0.0
    for s in brief.sections:
        o = min(end_s, s.end_s) - max(start_s, s.start_s)
        if o > overlap and s.caption:
            best, overlap = s, o
    return f"{brief.caption} {best.caption}".strip() if best else brief.caption


def chroma_for(chroma: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    """The conditioning frames for a window that starts at ``start_s`` (its prompt included)."""
    from weavewave.generators.musicgen.chroma import chroma_window

    return chroma_window(chroma, start_s, end_s)


def _fast_applies(b: MusicgenBundle) -> bool:
    from weavewave.generators.musicgen.fast import supports

    return supports(b.model)


def generate_block(
    b: MusicgenBundle,
    caption: str,
    new_frames: int,
    *,
    prompt_audio: np.ndarray | None,
    chroma: np.ndarray | None,
    sampling: Sampling,
    seed: int,
    decoder: str = "stock",
) -> np.ndarray:
    """One window: returns [shape=(channels, (prompt + new) * hop)] float32.

    The prompt is given as EnCodec codes (``decoder_input_ids``), which both MusicGen and MusicGen-Melody
    continue; the prompt comes back decoded again in front of the new audio. ``decoder="fast"`` runs the
    fast loop on the same inputs and random state, ``"stock"`` runs ``model.generate``.
    """
    if decoder == "fast":
        return _fast_block(
            b, caption, new_frames, prompt_audio=prompt_audio, chroma=chroma, sampling=sampling, seed=seed
        )
    import torch

    inputs = b.tokenizer([caption], return_tensors="pt", padding=True)
    kwargs: dict[str, Any] = {k: v.to(b.device) for k, v in inputs.items()}
    # each channel's codebooks are delayed by one step each, so K / channels - 1 more steps finish the last
    # frame (stereo models interleave left and right codebooks, a pair per delay)
    kwargs["max_new_tokens"] = new_frames + b.num_codebooks // b.audio_channels - 1
    kwargs.update(sampling.generate_kwargs())
    if prompt_audio is not None:
        kwargs["decoder_input_ids"] = encode_prompt(b, prompt_audio)
    if chroma is not None:
        kwargs["input_features"] = torch.from_numpy(np.ascontiguousarray(chroma))[None].to(b.device, b.dtype)
    devices = [torch.device(b.device).index or 0] if b.device.startswith("cuda") else []
    with torch.random.fork_rng(devices=devices), torch.inference_mode():
        torch.manual_seed(seed)
        audio = b.model.generate(**kwargs)
    return audio[0].float().cpu().numpy()


def _fast_block(
    b: MusicgenBundle,
    caption: str,
    new_frames: int,
    *,
    prompt_audio: np.ndarray | None,
    chroma: np.ndarray | None,
    sampling: Sampling,
    seed: int,
) -> np.ndarray:
    """:func:`generate_block` through :class:`~weavewave.generators.musicgen.fast.FastMusicgen`: the same
    tokenized caption, prompt codes, chroma and seeded global random state as the ``generate`` call."""
    import torch

    from weavewave.generators.musicgen.fast import FastMusicgen

    inputs = b.tokenizer([caption], return_tensors="pt", padding=True)
    prompt = encode_prompt(b, prompt_audio)[None] if prompt_audio is not None else None
    features = None
    if chroma is not None:
        features = torch.from_numpy(np.ascontiguousarray(chroma))[None].to(b.device, b.dtype)
    devices = [torch.device(b.device).index or 0] if b.device.startswith("cuda") else []
    with torch.random.fork_rng(devices=devices), torch.inference_mode():
        torch.manual_seed(seed)
        audio = FastMusicgen(b.model).generate_audio(
            inputs.input_ids.to(b.device),
            inputs.attention_mask.to(b.device),
            new_frames,
            guidance_scale=sampling.guidance_scale,
            greedy=sampling.temperature == 0,
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            temperature=sampling.temperature or 1.0,
            prompt_codes=prompt,
            input_features=features,
        )
    return audio[0].float().cpu().numpy()


def encode_prompt(b: MusicgenBundle, prompt_audio: np.ndarray) -> Any:
    """Audio [shape=(channels, n)] -> decoder_input_ids [shape=(num_codebooks, frames)], as generate
    builds them from an audio prompt (stereo models interleave left and right codebooks)."""
    import torch

    encoder = b.model.audio_encoder
    with torch.inference_mode():
        channels = []
        for c in range(prompt_audio.shape[0]):
            x = torch.from_numpy(np.ascontiguousarray(prompt_audio[c]))[None, None].to(b.device, b.dtype)
            channels.append(encoder.encode(x).audio_codes[0, 0])  # (codebooks, frames)
    if len(channels) == 1:
        return channels[0]
    left, right = channels
    codes = left.new_empty((left.shape[0] * 2, left.shape[1]))
    codes[0::2], codes[1::2] = left, right
    return codes


# ======================================================================================================
# Melody conditioning
# ======================================================================================================
def steering_chroma(
    brief: MusicBrief, *, soundfont: str | Path | None = None
) -> tuple[Arrangement, np.ndarray]:
    """Compose the brief, render it without drums and bass, and take its melody chroma.

    Returns the full arrangement (for ``music.mid``) and the chroma [shape=(frames, 12)].
    """
    from weavewave.generators.symbolic.compose import compose

    arrangement = compose(brief)
    return arrangement, steering_chroma_of(arrangement, soundfont=soundfont)


def steering_rendering(arrangement: Arrangement, *, soundfont: str | Path | None = None) -> Any:
    """The mix the steering chroma is taken from: the pitched parts other than the bass."""
    from weavewave.generators.symbolic.render import render
    from weavewave.music.arrangement import Arrangement

    parts = [p for p in arrangement.parts if not p.is_drum and p.role not in UNSTEERED_ROLES and p.notes]
    if not parts:  # e.g. a solo bass line: steer on what there is
        parts = [p for p in arrangement.parts if not p.is_drum and p.notes]
    if not parts:
        raise BadInputError(
            "--steer symbolic needs pitched instruments, and this brief has only drums: add "
            "one, e.g. --instruments 'piano, drums'"
        )
    sub = Arrangement(
        parts=parts,
        tempo_bpm=arrangement.tempo_bpm,
        meter=arrangement.meter,
        duration_s=arrangement.duration_s,
        key_tonic=arrangement.key_tonic,
        key_mode=arrangement.key_mode,
    )
    return render(sub, soundfont=soundfont)


def steering_chroma_of(arrangement: Arrangement, *, soundfont: str | Path | None = None) -> np.ndarray:
    from weavewave.generators.musicgen.chroma import melody_chroma

    mix = steering_rendering(arrangement, soundfont=soundfont)
    return melody_chroma(mix.audio, mix.sample_rate)


def reference_chroma(path: str | Path) -> np.ndarray:
    """The melody chroma of a recording on disk (any format libsndfile reads: wav, flac, ogg, mp3)."""
    from weavewave.generators.musicgen.chroma import melody_chroma
    from weavewave.io.audio import read_audio

    audio, sr = read_audio(path)
    return melody_chroma(audio, sr)


# ======================================================================================================
# References from the library
# ======================================================================================================
def _is_melody_model(ref: str) -> bool:
    """Whether ``ref`` is a MusicGen-Melody model, from its config alone (no weights loaded)."""
    from transformers import AutoConfig

    from weavewave.neural.models import from_pretrained, quiet_transformers

    quiet_transformers()
    return (
        getattr(from_pretrained(AutoConfig.from_pretrained, ref, "generator"), "model_type", "")
        == "musicgen_melody"
    )


def _check_reference_file(ref: Any) -> None:
    """The reference's file is there and unchanged since it was added; one line otherwise."""
    from weavewave.library.references import check_reference_file

    check_reference_file(ref)


def reference_excerpt(
    path: str | Path, b: MusicgenBundle, seconds: float
) -> tuple[np.ndarray, tuple[float, float]]:
    """The loudest ``seconds`` of a recording (on a :data:`EXCERPT_HOP_S` grid), at the model's rate and
    channels [shape=(channels, frames * hop)], and where it lies in the recording (start, end in seconds)."""
    from weavewave.dsp.signal import resample, to_mono
    from weavewave.io.audio import read_audio

    audio, sr = read_audio(path)
    mono = resample(to_mono(audio), sr, b.sample_rate).astype(np.float32)
    frames = max(1, min(int(round(seconds * b.frame_rate)), mono.shape[0] // b.hop))
    n = frames * b.hop
    step = max(1, int(EXCERPT_HOP_S * b.sample_rate))
    energy = np.concatenate([[0.0], np.cumsum(mono.astype(np.float64) ** 2)])
    starts = np.arange(0, max(1, mono.shape[0] - n + 1), step)
    start = int(starts[np.argmax(energy[np.minimum(starts + n, mono.shape[0])] - energy[starts])])
    if b.audio_channels == 1:
        clip = mono[None, start : start + n]
    else:
        chans = audio if audio.ndim == 2 and audio.shape[1] >= 2 else np.repeat(to_mono(audio)[:, None], 2, 1)
        clip = np.stack([resample(chans[:, c], sr, b.sample_rate)[start : start + n] for c in range(2)])
    clip = np.pad(clip.astype(np.float32), ((0, 0), (0, n - clip.shape[1])))
    return clip, (round(start / b.sample_rate, 2), round((start + n) / b.sample_rate, 2))


def _note_reference(
    brief: MusicBrief, ref: Any, use: str, span: tuple[float, float] | None
) -> tuple[Any, dict[str, Any]]:
    """The brief with how the reference was used: a caption sentence and provenance ``generator.reference``."""
    from weavewave.brief import Provenance

    title = ref.title or ref.track_id or Path(ref.path).name
    start, end = span or (0.0, 0.0)
    note = REFERENCE_NOTES[use].format(title=title, start=start, end=end)
    how = (
        "melody conditioning (its chroma)"
        if use == "melody"
        else f"audio prompt: the excerpt {start:g}-{end:g} s"
    )
    prov = dict(brief.provenance)
    prov["generator.reference"] = Provenance(
        source="reference",
        reason=f"{how}: from your track '{title}'" + (f" ({ref.track_id})" if ref.track_id else ""),
    )
    stats = {"track_id": ref.track_id, "title": title, "as": use} | (
        {"excerpt_s": [start, end]} if span else {}
    )
    return brief.model_copy(update={"caption": brief.caption + note, "provenance": prov}), stats
