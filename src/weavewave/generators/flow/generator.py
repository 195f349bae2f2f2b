"""The ``flow`` backend: brief in, Track out, with a flow-matching model trained by ``weavewave train flow``.

- The condition: each window's caption (the brief's caption plus its section's, as the musicgen backend
  does) embedded as the model was trained (CLAP text space, or the shipped sentence model).
- Sampling (:mod:`.sampling`): ``steps`` steps of Euler or midpoint, classifier-free guidance, the seed
  from the brief; long pieces by overlapping windows with crossfaded seams, decoded in one pass by the VAE.
- The VAE's audio is resampled to 48 kHz stereo and mastered like every other track (-14 LUFS, true peak
  at most -1 dBTP). Loops: the model plays on past the end and that continuation is folded over the start.
- What it cannot honour it refuses before any work: MIDI and stems (it makes one mixed waveform), a
  video's cues and tempo map, a melody recording, a reference tune's melody or chords.

There are no public weights for this model (MusFlow's were not published): ``model`` names a folder that
``weavewave train flow`` wrote, or, for users without one, a MusicLDM pipeline (hub id or folder), a
pretrained CLAP-conditioned latent diffusion model driven with the same condition, windows and mastering
(:mod:`.ldm`). torch and diffusers are imported inside functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import AliasChoices, Field

from weavewave.errors import BadInputError
from weavewave.generators import ProgressFn, Track
from weavewave.generators.contract import Capabilities, GeneratorOptions, check_brief, record_generator
from weavewave.generators.flow.sampling import MAX_GUIDANCE, SOLVERS, check_sampling

if TYPE_CHECKING:
    from weavewave.brief import MusicBrief
    from weavewave.neural.models import ModelCache

DEFAULT_STEPS = 32
DEFAULT_GUIDANCE = 3.0
# Seconds neighbouring windows share, and how much of that is crossfaded (at most half a window).
DEFAULT_OVERLAP_S = 2.0
DEFAULT_CROSSFADE_SHARE = 0.5
# What to do instead, with this backend's options, when a brief asks for what it cannot honour.
REFUSAL_HINTS = {"reference": "or make the brief again without --audio"}
NO_MODEL = (
    "the flow backend needs a trained flow model and none has public weights: train one with `weavewave "
    "train flow --data DATASET --vae ID_OR_DIR --out DIR` and pass --model DIR, or pass a MusicLDM pipeline "
    "(hub id or folder, e.g. ucsd-reach/musicldm) to --model"
)
# What ``--model`` holds: ``auto`` tells by the folder (a diffusers pipeline has a model_index.json; a hub id
# can only be a pipeline, since flow models have no public weights).
MODEL_KINDS = ("auto", "flow", "musicldm")


def _alias(public: str, constructor: str) -> Any:
    return {"validation_alias": AliasChoices(public, constructor), "serialization_alias": constructor}


class FlowOptions(GeneratorOptions):
    """Options of the ``flow`` backend (ranges are checked by the generator, with one-line errors)."""

    model: str | None = Field(
        None,
        description="folder written by `weavewave train flow`, or a MusicLDM pipeline (hub id or folder)",
    )
    model_kind: str = Field("auto", description="what --model holds: auto, flow or musicldm")
    vae: str | None = Field(
        None, description="the VAE's hub id or folder (default: the one it was trained on)"
    )
    clap_model: str | None = Field(None, description="CLAP weights for a CLAP-conditioned model")
    steps: int = Field(DEFAULT_STEPS, description="ODE solver steps")
    guidance: float = Field(
        DEFAULT_GUIDANCE, description="classifier-free guidance scale", **_alias("guidance", "guidance_scale")
    )
    solver: str = Field("euler", description="euler or midpoint")
    overlap: float | None = Field(
        None,
        description="seconds windows share (default 2, at most a quarter window)",
        **_alias("overlap", "overlap_s"),
    )
    crossfade: float | None = Field(
        None,
        description="seconds of the overlap crossfaded (default half)",
        **_alias("crossfade", "crossfade_s"),
    )
    device: str = "auto"
    dtype: str = "auto"
    adapter_embed: str | list[str] | None = Field(
        None,
        description="an adapter from `weavewave train adapter` (or several, fused): its inputs condition the "
        "model",
    )
    adapter_inputs: list[str] | list[list[str]] | str = Field(
        default_factory=list,
        description="what goes through the adapter: picture paths or texts (several adapters: one list each; "
        "or JSON text)",
    )
    adapter_weights: list[float] | str | None = Field(
        None, description="with several adapters: their weights in the fusion (default equal)"
    )
    adapter_fusion: str | None = Field(
        None, description="how several adapters are fused: mean (the only one)"
    )
    cache: Any = Field(None, description="a ModelCache to share loaded models", exclude=True)


@dataclass
class FlowBundle:
    """A loaded flow model with its VAE and caption embedder."""

    model: Any
    config: Any
    vae: Any
    embed: Any
    condition: str
    ref: str
    device: str
    dtype: Any
    adapted: np.ndarray | None = None  # the adapter's condition vector, used for every window


@dataclass
class FlowGenerator:
    """Brief in, Track out, with a conditional flow-matching model in an audio VAE's latent space.

    Parameters
    ----------
    model : folder written by ``weavewave train flow``, or a MusicLDM pipeline (hub id or folder: a
        pretrained CLAP-conditioned model for users without a flow model; see :mod:`.ldm`). Required.
    model_kind : ``auto`` (tell by ``model``), ``flow`` or ``musicldm``.
    vae : the VAE's hub id or folder; default the one recorded in the model's config.
    clap_model : CLAP weights for a model trained on CLAP text embeddings; default the recorded ones.
    steps, guidance_scale, solver : the ODE solver (see :mod:`weavewave.generators.flow.sampling`).
    overlap_s, crossfade_s : long form: seconds neighbouring windows share, and how many are crossfaded.
    device, dtype : ``auto`` or a named one; cache : a ModelCache to share loaded models.
    adapter_embed : an adapter folder (``weavewave train adapter``) whose target space is the model's
        condition space; adapter_inputs : picture paths (an image adapter) or texts it adapts. Their
        adapted embeddings, averaged, condition every window instead of the captions. Several adapters (a
        list, each checked against the model's space) take one list of inputs each; their unit outputs are
        fused by a weighted mean, L2-normalised (:func:`.adapters.fuse`; ``adapter_weights``, default equal).
    """

    model: str | None = None
    model_kind: str = "auto"
    vae: str | None = None
    clap_model: str | None = None
    steps: int = DEFAULT_STEPS
    guidance_scale: float = DEFAULT_GUIDANCE
    solver: str = "euler"
    overlap_s: float | None = None  # default: DEFAULT_OVERLAP_S, at most a quarter of the window
    crossfade_s: float | None = None  # default: half the overlap
    device: str = "auto"
    dtype: str = "auto"
    adapter_embed: str | list[str] | None = None  # a str: one adapter (or a JSON list, the brief's record)
    adapter_inputs: list[str] | list[list[str]] | str = field(default_factory=list)  # a str: a JSON list
    adapter_weights: list[float] | str | None = None  # several adapters: fusion weights (default equal)
    adapter_fusion: str | None = None  # recorded with several adapters; FUSION is the only one
    cache: ModelCache | None = field(default=None, repr=False)
    name: str = field(default="flow", init=False)

    capabilities: ClassVar[Capabilities] = Capabilities(
        midi=False, stems=False, loop=True, timeline=False, melody=False, reference=False
    )
    Options: ClassVar[type[GeneratorOptions]] = FlowOptions

    def __post_init__(self) -> None:
        if not self.model:
            raise BadInputError(NO_MODEL)
        from weavewave.generators.flow.model import read_config

        self.solver = (self.solver or "euler").lower()
        self.model_kind = resolve_model_kind(self.model, self.model_kind)
        self.adapters: list[str] = []
        if self.adapter_embed:
            from weavewave.generators.flow.adapters import FUSION, adapter_plan

            if self.adapter_fusion not in (None, FUSION):
                raise BadInputError(f"unknown adapter fusion {self.adapter_fusion!r}: use {FUSION}")
            self.adapters, self.routes, self.weights = adapter_plan(
                self.adapter_embed, self.adapter_inputs, self.adapter_weights
            )
            if len(self.adapters) == 1:  # one adapter (however given): recorded as before
                self.adapter_embed, self.adapter_inputs = self.adapters[0], self.routes[0]
        if self.model_kind == "musicldm":
            if self.vae:
                raise BadInputError(
                    f"--vae is for flow models: the MusicLDM pipeline {self.model} has its own VAE; drop --vae"
                )
            check_sampling(self.steps, self.guidance_scale, self.solver)
            if self.adapter_embed:
                self.check_adapter()
            return  # the window (and so the overlap's range) is known once the pipeline is loaded
        self.config = read_config(self.model)  # a wrong folder fails now, before any work
        check_sampling(self.steps, self.guidance_scale, self.solver)
        self.check_overlap(self.config.window_s)
        if self.adapter_embed:
            self.check_adapter()

    def check_overlap(self, window: float) -> None:
        """Default and check the overlap and crossfade against a window of ``window`` seconds."""
        if self.overlap_s is None:
            self.overlap_s = min(DEFAULT_OVERLAP_S, window / 4)
        if self.crossfade_s is None:
            self.crossfade_s = self.overlap_s * DEFAULT_CROSSFADE_SHARE
        if not 0.0 < self.overlap_s <= window / 2:
            raise BadInputError(
                f"overlap {self.overlap_s:g} s is out of range: use more than 0 and at most half the "
                f"model's window ({window / 2:g} s)"
            )
        if not 0.0 <= self.crossfade_s <= self.overlap_s:
            raise BadInputError(
                f"crossfade {self.crossfade_s:g} s must be between 0 and the overlap ({self.overlap_s:g} s)"
            )

    def check_adapter(self) -> None:
        """Every adapter maps into this model's condition space and has something to adapt (one line if not)."""
        from weavewave.generators.flow.adapters import condition_space, read_adapter_config

        assert self.adapter_embed is not None and self.model is not None
        for path, inputs in zip(self.adapters, self.routes, strict=True):
            adapter = read_adapter_config(path)
            if self.model_kind == "musicldm":
                self.check_ldm_adapter(adapter, path, inputs)
                continue
            space = condition_space(
                self.config.condition, self.clap_model or self.config.clap_model, self.model
            )
            if adapter.target_space != space or adapter.target_dim != self.config.cond_dim:
                raise BadInputError(
                    f"the adapter {path} maps into {adapter.target_space} ({adapter.target_dim} "
                    f"dimensions) but {self.model} is conditioned on {space} ({self.config.cond_dim}): train the "
                    f"adapter with --flow-model {self.model}, or with the CLAP weights of a clap-audio model"
                )
            _need_inputs(adapter, path, inputs)

    def check_ldm_adapter(self, adapter: Any, path: str, inputs: list[str]) -> None:
        """A MusicLDM pipeline is conditioned on its CLAP's space: the adapter must map into it (trained with
        ``--clap-model`` naming the pipeline, or the CLAP weights given here as ``clap_model``)."""
        from weavewave.generators.flow.adapters import model_ref

        clap = model_ref(self.clap_model or self.model)
        if adapter.target_space not in (f"clap-audio:{clap}", f"clap:{clap}"):
            raise BadInputError(
                f"the adapter {path} maps into {adapter.target_space} but the MusicLDM pipeline "
                f"{self.model} is conditioned on its own CLAP ({clap}): train the adapter with --clap-model "
                f"{self.model}, or pass --clap-model with the CLAP weights the pipeline's CLAP is"
            )
        _need_inputs(adapter, path, inputs)

    @property
    def fused(self) -> bool:
        """Whether several adapters are fused into the condition."""
        return len(self.adapters) > 1

    def adapter_label(self) -> str:
        """The condition's name in the stats: ``adapter:DIR``, or the fusion of several with their weights."""
        if not self.fused:
            return f"adapter:{self.adapter_embed}"
        total = sum(self.weights)
        parts = ", ".join(f"{p}*{w / total:.3g}" for p, w in zip(self.adapters, self.weights, strict=True))
        return f"adapters:mean({parts})"

    def adapter_record(self) -> dict[str, Any]:
        """The adapter options as the brief records them (scalars: lists as JSON text)."""
        import json

        if not self.adapter_embed:
            return {}
        if not self.fused:
            return {
                "adapter_embed": self.adapter_embed,
                "adapter_inputs": json.dumps(list(self.adapter_inputs)),
            }
        from weavewave.generators.flow.adapters import FUSION

        return {"adapter_embed": json.dumps(self.adapters), "adapter_inputs": json.dumps(self.routes),
                "adapter_weights": json.dumps(self.weights), "adapter_fusion": FUSION}  # fmt: skip

    def bundle(self) -> FlowBundle:
        """The loaded model, VAE and embedder (each loaded once per model cache)."""
        from weavewave.generators.flow.condition import CaptionCache, caption_embedder
        from weavewave.generators.flow.model import load_model
        from weavewave.generators.flow.vae import load_vae
        from weavewave.neural.models import load_once

        assert self.model is not None  # checked in __post_init__
        ref = str(Path(self.model).expanduser())
        model, config = load_once(
            "flow", ref, lambda r, d, dt: load_model(r, device=d, dtype=dt), device=self.device,
            dtype=self.dtype, cache=self.cache,
        )  # fmt: skip
        vae = load_vae(self.vae or config.vae, device=str(next(model.parameters()).device), cache=self.cache)
        if (vae.latent_channels, vae.hop, vae.sample_rate) != (
            config.latent_channels,
            config.hop,
            config.sample_rate,
        ):
            raise BadInputError(
                f"the VAE {vae.ref} ({vae.latent_channels} channels, hop {vae.hop}, {vae.sample_rate} Hz) is not "
                f"the one {self.model} was trained on ({config.latent_channels}, {config.hop}, "
                f"{config.sample_rate} Hz): drop --vae or pass that VAE"
            )
        if self.adapter_embed:  # the adapter's inputs, not the captions, condition the model
            return FlowBundle(model, config, vae, None, self.adapter_label(), ref, vae.device,
                              next(model.parameters()).dtype, self.adapted_condition())  # fmt: skip
        embed, _, label = caption_embedder(config.condition, self.clap_model or config.clap_model)
        return FlowBundle(
            model, config, vae, CaptionCache(embed), label, ref, vae.device, next(model.parameters()).dtype
        )

    def adapted_condition(self) -> np.ndarray:
        """The adapters' inputs embedded, adapted and averaged per adapter, then fused (several adapters):
        a unit vector [shape=(cond_dim,)]."""
        from weavewave.generators.flow.adapter_train import source_embedder
        from weavewave.generators.flow.adapters import adapt, fuse, load_adapter

        assert self.adapter_embed is not None
        vectors = []
        for path, inputs in zip(self.adapters, self.routes, strict=True):
            adapter, config = load_adapter(path)
            assert config.source_embedder is not None  # an adapter from a dataset always names its embedder
            sources = source_embedder(config.source_embedder, config.source_model)(inputs)
            mean = adapt(adapter, sources).mean(axis=0)
            vectors.append((mean / (np.linalg.norm(mean) + 1e-12)).astype(np.float32))
        return vectors[0] if not self.fused else fuse(vectors, self.weights)

    def generate(self, brief: MusicBrief, *, progress: ProgressFn | None = None) -> Track:
        """Make ``brief`` as mastered 48 kHz stereo audio."""
        from weavewave.generators.flow.condition import check_dim
        from weavewave.generators.flow.sampling import plan_windows, sample_latents
        from weavewave.generators.musicgen.generator import LOOP_CROSSFADE_S, block_caption

        check_brief(brief, self.capabilities, backend=self.name, hints=REFUSAL_HINTS)
        report = progress or (lambda fraction, message: None)
        report(0.0, f"loading {self.model}")
        if self.model_kind == "musicldm":
            return self.generate_ldm(brief, report)
        b = self.bundle()
        cfg = b.config
        seam_s = LOOP_CROSSFADE_S if brief.loop else 0.0
        total = max(1, int(math.ceil((brief.duration_s + seam_s) * cfg.frame_rate)))
        assert self.overlap_s is not None and self.crossfade_s is not None  # set in __post_init__
        overlap = max(1, int(round(self.overlap_s * cfg.frame_rate)))
        crossfade = int(round(self.crossfade_s * cfg.frame_rate))
        windows = plan_windows(total, cfg.frames, min(overlap, cfg.frames - 1))
        captions = [block_caption(brief, w.start / cfg.frame_rate, w.end / cfg.frame_rate) for w in windows]
        if b.adapted is not None:
            conds = [check_dim(b.adapted, cfg.cond_dim, "the adapted embedding")] * len(captions)
        else:
            conds = [check_dim(b.embed(c), cfg.cond_dim, f"the {b.condition} embedding") for c in captions]
        report(0.1, f"sampling {len(windows)} window(s), {self.steps} steps")
        latents, windows = sample_latents(
            b.model, conds, total, steps=self.steps, guidance=self.guidance_scale, solver=self.solver,
            seed=brief.seed, overlap=min(overlap, cfg.frames - 1), crossfade=crossfade,
        )  # fmt: skip
        z = (
            latents.T * np.asarray(cfg.latent_std, np.float32)[:, None]
            + np.asarray(cfg.latent_mean, np.float32)[:, None]
        )
        report(0.8, "decoding")
        audio = b.vae.decode(z)
        report(0.9, "mastering")
        from weavewave.dsp.master import SAMPLE_RATE, master_model_audio

        master, stats = master_model_audio(
            audio, cfg.sample_rate, brief.duration_s, loop=brief.loop, seam_s=seam_s
        )
        options = self.record_options(b)
        stats.update(
            generator="flow",
            model=b.ref,
            vae=b.vae.ref,
            condition=b.condition,
            steps=self.steps,
            guidance=self.guidance_scale,
            solver=self.solver,
            adapter=self.adapters if self.fused else self.adapter_embed,
            windows=[
                {
                    "start_s": round(w.start / cfg.frame_rate, 4),
                    "end_s": round(w.end / cfg.frame_rate, 4),
                    "held_s": round(w.known / cfg.frame_rate, 4),
                    "caption": c,
                }
                for w, c in zip(windows, captions, strict=True)
            ],
        )
        report(1.0, "mastered")
        return Track(
            audio=master,
            sample_rate=SAMPLE_RATE,
            brief=record_generator(brief, self.name, options),
            stats=stats,
        )

    def generate_ldm(self, brief: MusicBrief, report: ProgressFn) -> Track:
        """Make ``brief`` with a MusicLDM pipeline (see :mod:`.ldm`): same windows, record and mastering."""

        from weavewave.dsp.master import SAMPLE_RATE, master_model_audio
        from weavewave.generators.flow.condition import CaptionCache, check_dim
        from weavewave.generators.flow.ldm import decode, load_ldm, sample_ldm_latents
        from weavewave.generators.flow.sampling import plan_windows
        from weavewave.generators.musicgen.generator import LOOP_CROSSFADE_S, block_caption

        assert self.model is not None
        ldm = load_ldm(self.model, device=self.device, dtype=self.dtype, cache=self.cache)
        self.check_overlap(ldm.window_s)
        assert self.overlap_s is not None and self.crossfade_s is not None
        seam_s = LOOP_CROSSFADE_S if brief.loop else 0.0
        total = max(1, int(math.ceil((brief.duration_s + seam_s) * ldm.frame_rate)))
        overlap = min(max(1, int(round(self.overlap_s * ldm.frame_rate))), ldm.window - 1)
        crossfade = int(round(self.crossfade_s * ldm.frame_rate))
        windows = plan_windows(total, ldm.window, overlap)
        spans = [(w.start / ldm.frame_rate, w.end / ldm.frame_rate) for w in windows]
        captions = [block_caption(brief, a, b) for a, b in spans]
        if self.adapter_embed:
            adapted = check_dim(self.adapted_condition(), ldm.cond_dim, "the adapted embedding")
            conds, condition = [adapted] * len(windows), self.adapter_label()
        else:
            embed = CaptionCache(lambda texts: ldm.embed(list(texts)))
            conds, condition = [embed(c) for c in captions], f"clap:{ldm.clap.name}"
        null = ldm.embed([""])[0]  # the pipeline's own unconditional row: the empty prompt
        report(0.1, f"sampling {len(windows)} window(s), {self.steps} steps")
        latents, windows = sample_ldm_latents(
            ldm, conds, null, total, steps=self.steps, guidance=self.guidance_scale, solver=self.solver,
            seed=brief.seed, overlap=overlap, crossfade=crossfade,
        )  # fmt: skip
        report(0.8, "decoding")
        audio = decode(ldm, latents)
        report(0.9, "mastering")
        master, stats = master_model_audio(
            audio[None], ldm.sample_rate, brief.duration_s, loop=brief.loop, seam_s=seam_s
        )
        options = {
            "model": ldm.ref, "model_kind": "musicldm", "clap_model": self.clap_model, "steps": self.steps,
            "guidance": self.guidance_scale, "solver": self.solver, "overlap": self.overlap_s,
            "crossfade": self.crossfade_s, "dtype": self.dtype,
            **self.adapter_record(),
        }  # fmt: skip
        stats.update(
            generator="flow", model=ldm.ref, pipeline="MusicLDMPipeline", condition=condition,
            steps=self.steps, guidance=self.guidance_scale, solver=self.solver,
            adapter=self.adapters if self.fused else self.adapter_embed,
            windows=[
                {"start_s": round(a, 4), "end_s": round(b, 4), "held_s": round(w.known / ldm.frame_rate, 4),
                 "caption": c}
                for w, (a, b), c in zip(windows, spans, captions, strict=True)
            ],
        )  # fmt: skip
        report(1.0, "mastered")
        return Track(
            audio=master,
            sample_rate=SAMPLE_RATE,
            brief=record_generator(brief, self.name, options),
            stats=stats,
        )

    def record_options(self, b: FlowBundle) -> dict[str, Any]:
        """The options that change the sound, by their public names, as the brief records them."""

        return {
            "model": b.ref,
            "vae": b.vae.ref,
            "clap_model": self.clap_model or b.config.clap_model,
            "steps": self.steps,
            "guidance": self.guidance_scale,
            "solver": self.solver,
            "overlap": self.overlap_s,
            "crossfade": self.crossfade_s,
            "dtype": self.dtype,
            **self.adapter_record(),
        }  # fmt: skip


def resolve_model_kind(model: str, kind: str = "auto") -> str:
    """``flow`` or ``musicldm`` for ``model`` (no torch): ``auto`` takes a folder with a model_index.json,
    or a hub id (flow models have no public weights), as a pipeline."""
    from weavewave.generators.flow.ldm import check_pipeline, pipeline_class
    from weavewave.neural.models import local_path, looks_like_path

    kind = (kind or "auto").lower()
    if kind not in MODEL_KINDS:
        raise BadInputError(f"unknown model kind {kind!r}: use {', '.join(MODEL_KINDS)}")
    if kind == "auto":
        if pipeline_class(model) is not None:
            kind = "musicldm"
        else:
            kind = "flow" if local_path(model) is not None or looks_like_path(model) else "musicldm"
    if kind == "musicldm":
        check_pipeline(model)
    return kind


__all__ = ["MAX_GUIDANCE", "MODEL_KINDS", "SOLVERS", "FlowGenerator", "FlowOptions", "resolve_model_kind"]


def _need_inputs(adapter: Any, path: str, inputs: list[str]) -> None:
    """One line when an adapter has nothing to adapt (an image adapter and no picture, say)."""
    from weavewave.generators.flow.adapters import SOURCE_NOUNS

    if not inputs:
        what = "--image PATH" if adapter.source == "image" else "--text TEXT"
        raise BadInputError(f"the adapter {path} adapts {SOURCE_NOUNS[adapter.source]}: give {what}")
