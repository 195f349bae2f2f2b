"""One request: everything a user can ask of weavewave, with one name per concept on every face.

The CLI builds its options from :class:`Request` (``--prompt-seconds`` is the field ``prompt_seconds``),
the HTTP API takes the same names as form fields, the page builds one, and :func:`weavewave.api.describe`
and :func:`weavewave.api.generate` take one. Checking happens here, once:

- the field types and choices, by pydantic when the request is built;
- how fields fit together (a reference mode needs a reference tune, MusicGen's sampling settings need the
  MusicGen backend, ...), by :meth:`Request.checked`;
- what the machine has (input files that exist and can be read, models that are here), by
  :meth:`Request.check_resources`, just before the work.

Every failure is a :class:`~weavewave.errors.FieldError` naming the field, so each face can say which of
its fields was wrong (``--tempo`` on the command line, ``tempo`` in a 422).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from weavewave.errors import BadInputError, FieldError

# The shortest piece: a brief keeps durations to the millisecond, so anything shorter rounds to nothing.
MIN_DURATION_S = 0.01
# Generator options named differently from the request field they come from (option -> field).
OPTION_FIELD = {"guidance_scale": "guidance", "window_s": "window", "prompt_s": "prompt_seconds",
                "adapter_inputs": "adapter_embed", "adapter_fusion": "adapter_embed"}  # fmt: skip
DESCRIBERS = ("analytic", "mllm")
REFINERS = ("rules", "llm")
TEXT_MODELS = {"auto": None, "minilm": True, "lexicon": False}  # -> perceive_text's ``semantic``

# Field groups, in the order the CLI's help shows them. ``commands``: which CLI commands offer the group.
GROUPS = {
    "inputs": ("inputs (at least one)", ("describe", "generate")),
    "controls": ("controls (always win over what the inputs suggest)", ("describe", "generate")),
    "restyle": ("restyling (with --audio, or to vary any brief)", ("describe", "generate")),
    "library": ("your music library (references that steer the piece)", ("describe", "generate")),
    "output": ("output", ("generate",)),
    "rerank": ("best of N (weavewave eval's metrics)", ("generate",)),
    "musicgen": ("musicgen backend (--backend musicgen)", ("generate",)),
    "flow": ("flow backend (--backend flow; also takes --model and --guidance)", ("generate",)),
    "neural": ("neural models", ("describe", "generate")),
}
# Fields that name a file on the machine that runs the work. Over HTTP the files are uploads instead
# (``UPLOADS``), and ``soundfont`` is the server's own choice, so a client cannot name server paths.
PATH_FIELDS = ("image", "video", "audio", "melody", "soundfont")
UPLOADS = ("image", "video", "audio", "melody")
# MusicGen's options: set to anything but their default, they need ``backend="musicgen"``.
MUSICGEN_FIELDS = ("model", "adapter", "steer", "melody", "top_k", "top_p", "temperature", "guidance", "window",
                   "prompt_seconds", "decoder", "reference_as")  # fmt: skip
# The flow backend's options (``model`` and ``guidance`` are shared with musicgen); the fields each neural
# backend takes, for the check that a field is not given to a backend that ignores it.
FLOW_FIELDS = ("steps", "solver", "adapter_embed", "adapter_weights")
BACKEND_FIELDS = {"musicgen": MUSICGEN_FIELDS, "flow": ("model", "guidance", *FLOW_FIELDS)}


def _field(
    default: Any, group: str, help: str, *, metavar: str | None = None, http: bool = True, **kw: Any
) -> Any:
    """A request field with what the faces need: its CLI group, metavar and whether HTTP offers it."""
    return Field(default, description=help, json_schema_extra={"group": group, "metavar": metavar, "http": http},
                 **kw)  # fmt: skip


class Request(BaseModel):
    """A describe or generate request. Build it with :meth:`build` (checked) or ``Request(...)`` (types only)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    # --- inputs ---
    text: str | None = _field(None, "inputs", "a prompt, scene or story")
    image: list[str] = _field([], "inputs", "a photo (repeat for several)", metavar="PATH")
    brief: dict[str, Any] | None = _field(
        None, "inputs", "a brief.json to reproduce or vary (edit it first)", metavar="PATH")  # fmt: skip
    video: str | None = _field(
        None, "inputs", "a video to score: music as long as it, changes on its cuts; generate also writes video.mp4",
        metavar="PATH")  # fmt: skip
    audio: str | None = _field(
        None, "inputs", "a reference tune (WAV, FLAC, MP3, OGG, up to 10 min) to restyle", metavar="PATH"
    )
    # --- controls ---
    duration: float | None = _field(None, "controls", "length in seconds, up to 600", metavar="SECONDS")
    tempo: float | None = _field(None, "controls", "tempo, 30-300 BPM", metavar="BPM")
    key: str | None = _field(None, "controls", "e.g. 'F# minor', 'Bb major', 'c#m', 'A dorian'")
    meter: str | None = _field(None, "controls", "4/4, 3/4 or 6/8")
    genre: str | None = _field(
        None, "controls", "pop, rock, jazz, lofi, electronic, ambient, classical, folk, cinematic"
    )
    instruments: list[str] | None = _field(
        None, "controls", "comma-separated, e.g. 'piano, strings, drums'", metavar="LIST"
    )
    seed: int | None = _field(None, "controls", "same seed and inputs give the same bytes")
    loop: bool = _field(False, "controls", "a seamless loop: the end flows back into the start")
    # --- restyling ---
    instruction: str | None = _field(
        None, "restyle", "what to change, e.g. 'as a gentle lullaby on music box', 'jazz', 'more energetic'",
        metavar="TEXT")  # fmt: skip
    reference_mode: Literal["melody", "harmony", "style"] | None = _field(
        None, "restyle", "what to keep of --audio: melody (default: the tune and its chords, re-arranged), "
        "harmony (the chords, a new tune) or style (tempo and feel, new material)")  # fmt: skip
    # --- your music library ---
    library: str | None = _field(
        None, "library", "a library folder (`weavewave library add`): its closest tracks lend tempo, feel, harmony "
        "and instrumentation", metavar="DIR", http=False)  # fmt: skip
    references: int | None = _field(
        None, "library", "how many library tracks to take as references (default 1; the first lends the most)",
        metavar="N")  # fmt: skip
    reference_track: list[str] = _field(
        [], "library", "a library track (by id, see `weavewave library list`) to take as a reference; repeatable",
        metavar="ID")  # fmt: skip
    # --- output ---
    backend: str = _field(
        "symbolic", "output", "generator: symbolic (default; offline, MIDI and stems), musicgen (neural, "
        "needs weights) or flow (neural, a model trained with `weavewave train flow`)")  # fmt: skip
    format: Literal["wav", "flac", "mp3"] = _field("wav", "output", "audio format (default wav)")
    stems: bool = _field(False, "output", "also write one audio file per part into DIR/stems")
    soundfont: str | None = _field(
        None, "output", "General MIDI SoundFont (.sf2) to render with", metavar="SF2", http=False
    )
    keep_audio: bool = _field(
        False, "output", "with --video: keep the video's own sound in video.mp4, the music ducked under it"
    )
    # --- best of N ---
    candidates: int = _field(
        1,
        "rerank",
        "make N candidates with seeds derived from --seed and keep the best (default 1)",
        metavar="N",
    )
    rerank: str | None = _field(
        None,
        "rerank",
        "how to choose: adherence, key, tempo, scale, groove, folk, or clap[:MODEL]",
        metavar="METRIC",
    )
    # --- musicgen ---
    model: str | None = _field(
        None, "musicgen", "MusicGen hub id or local folder (default facebook/musicgen-small, or "
        "facebook/musicgen-melody with --steer/--melody); see `weavewave models`. With --backend flow: the "
        "folder `weavewave train flow` wrote, or a MusicLDM pipeline", metavar="ID_OR_DIR")  # fmt: skip
    adapter: str | None = _field(
        None, "musicgen", "a LoRA adapter folder made by `weavewave train musicgen`, applied to --model (the base "
        "it was trained on); see `weavewave models`", metavar="DIR")  # fmt: skip
    steer: Literal["none", "symbolic"] = _field(
        "none", "musicgen", "symbolic: condition MusicGen-Melody on our own composition, for neural audio at the "
        "requested tempo and key (also writes music.mid)")  # fmt: skip
    melody: str | None = _field(
        None, "musicgen", "a recording whose melody conditions MusicGen-Melody (default: --audio, when given)",
        metavar="AUDIO")  # fmt: skip
    top_k: int = _field(250, "musicgen", "sample from the K likeliest codes (0: off)", metavar="K")
    top_p: float = _field(0.0, "musicgen", "nucleus sampling (0: off)", metavar="P")
    temperature: float = _field(1.0, "musicgen", "sampling temperature (0: greedy)")
    guidance: float = _field(3.0, "musicgen", "classifier-free guidance scale", metavar="SCALE")
    window: float | None = _field(None, "musicgen", "generation window (default 30)", metavar="SECONDS")
    prompt_seconds: float | None = _field(
        None, "musicgen", "seconds of audio each later window continues from (default 10)", metavar="SECONDS"
    )
    decoder: Literal["auto", "fast", "stock"] = _field(
        "auto", "musicgen", "decoding loop: fast (static cache, batched guidance; same codes as stock under "
        "greedy decoding), stock (transformers' generate), auto (default: fast where it applies)")  # fmt: skip
    reference_as: Literal["auto", "melody", "prompt", "none"] = _field(
        "auto", "musicgen", "how the first library reference conditions MusicGen: melody (its chroma; a melody "
        "model), prompt (an excerpt the music continues), none; auto (default): melody with a melody model, "
        "else prompt")  # fmt: skip
    # --- flow ---
    steps: int = _field(32, "flow", "ODE solver steps (default 32)", metavar="N")
    solver: Literal["euler", "midpoint"] = _field("euler", "flow", "ODE solver: euler (default) or midpoint")
    adapter_embed: str | list[str] | None = _field(
        None, "flow", "an adapter from `weavewave train adapter`: the --image (or --text) goes through it into "
        "the flow model's condition space; repeat for several (e.g. an image and a story adapter with --image "
        "and --text), each input through its own adapter, fused by a weighted mean", metavar="DIR")  # fmt: skip
    adapter_weights: list[float] | None = _field(
        None, "flow", "with several --adapter-embed: their weights in the fusion, in order, e.g. '2,1' "
        "(default equal)", metavar="W,W,...")  # fmt: skip
    # --- reading and neural models ---
    text_model: Literal["auto", "minilm", "lexicon"] = _field(
        "auto", "neural", "how to read text: the MiniLM sentence model, the word lexicon, or auto (default)"
    )
    describer: Literal["analytic", "mllm"] = _field(
        "analytic", "neural", "mllm: also ask a multimodal chat model to describe the inputs"
    )
    describer_model: str | None = _field(
        None, "neural", "multimodal chat model for --describer mllm", metavar="ID_OR_DIR"
    )
    refiner: Literal["rules", "llm"] = _field(
        "rules",
        "neural",
        "how an --instruction rewrites the brief: rules, or an instruct LLM (--refiner-model)",
    )
    refiner_model: str | None = _field(
        None, "neural", "instruct model for --refiner llm", metavar="ID_OR_DIR"
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = _field(
        "auto", "neural", "where neural models run (default auto)"
    )
    dtype: Literal["auto", "fp32", "bf16", "fp16"] = _field(
        "auto", "neural", "number format of neural models (default auto: bf16/fp16 on GPUs, fp32 on CPU)"
    )

    # --- how values arrive from the faces ---
    @field_validator("image", mode="before")
    @classmethod
    def _images(cls, value: Any) -> Any:
        if value is None:
            return []
        values = [value] if isinstance(value, str | os.PathLike) else value
        if not isinstance(values, list | tuple) or not all(isinstance(v, str | os.PathLike) for v in values):
            raise FieldError("image", "give the path of a photo, or a list of paths")
        return [os.fspath(v) for v in values]

    @field_validator("adapter_embed", mode="before")
    @classmethod
    def _adapters(cls, value: Any) -> Any:
        """One adapter folder or several (a list, or JSON list text as an HTTP form sends it); one stays a str."""
        if isinstance(value, str) and value.lstrip().startswith("["):
            from weavewave.io.text import loads_json

            value = loads_json(value, origin="adapter_embed")
        if isinstance(value, list | tuple):
            if not value or not all(isinstance(v, str | os.PathLike) for v in value):
                raise FieldError("adapter_embed", "give an adapter folder, or a list of them")
            value = [os.fspath(v) for v in value]
            return value[0] if len(value) == 1 else value
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @field_validator("adapter_weights", mode="before")
    @classmethod
    def _weights(cls, value: Any) -> Any:
        """Weights as a list, or comma-separated text ('2,1') as the CLI and forms send them."""
        if isinstance(value, str):
            try:
                value = [float(w) for w in value.replace("[", "").replace("]", "").split(",") if w.strip()]
            except ValueError:
                raise FieldError(
                    "adapter_weights", f"{value!r}: give numbers separated by commas, e.g. '2,1'"
                ) from None
        if isinstance(value, list | tuple) and not all(
            isinstance(w, int | float) and math.isfinite(w) and w > 0 for w in value
        ):
            raise FieldError("adapter_weights", f"{list(value)}: every weight must be a positive number")
        return value

    @field_validator("reference_track", mode="before")
    @classmethod
    def _track_ids(cls, value: Any) -> Any:
        return [] if value is None else [value] if isinstance(value, str) else value

    @field_validator("video", "audio", "melody", "soundfont", "library", mode="before")
    @classmethod
    def _path(cls, value: Any) -> Any:
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @field_validator("instruments", mode="before")
    @classmethod
    def _instrument_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [i for i in (s.strip() for s in value.split(",")) if i]
            if not value:
                raise FieldError("instruments", "is empty: name at least one, e.g. 'piano, strings'")
        return value

    @field_validator("brief", mode="before")
    @classmethod
    def _brief_data(cls, value: Any) -> Any:
        """A MusicBrief, its dict, JSON text, or the path of a brief.json: kept as the brief's data."""
        from weavewave.brief import MusicBrief

        if value is None or isinstance(value, dict):
            return value
        if isinstance(value, MusicBrief):
            return value.to_dict()
        from weavewave.io.text import loads_json, read_text_file

        if not isinstance(value, str | os.PathLike):
            raise FieldError("brief", "give a brief.json's path, its JSON text or a MusicBrief")
        path = os.fspath(value)
        if path.lstrip().startswith("{"):  # JSON text, as the HTTP API and the page send it
            return loads_json(path, origin="brief")
        return loads_json(read_text_file(path, what="brief file"), origin=path)

    # --- building and checking ---
    @classmethod
    def build(cls, data: Mapping[str, Any] | None = None, **fields: Any) -> Request:
        """A checked request from field values (``None`` means "not given"). Raises FieldError."""
        values = {k: v for k, v in {**(data or {}), **fields}.items() if v is not None}
        unknown = sorted(set(values) - set(cls.model_fields))
        if unknown:
            raise FieldError(
                unknown[0], f"is not a request field; the fields are: {', '.join(cls.model_fields)}"
            )
        try:
            request = cls.model_validate(values)
        except ValidationError as exc:
            raise _field_error(exc) from None
        return request.checked()

    def checked(self) -> Request:
        """This request with its controls normalised, after checking how its fields fit together."""
        from weavewave.bridge import Controls

        for name in ("text", "instruction", "key", "genre"):
            value = getattr(self, name)
            if isinstance(value, str):
                _check_text(name, value)
        for name in ("duration", "tempo", "top_p", "temperature", "guidance", "window", "prompt_seconds"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise FieldError(name, f"{value} is not a number: give a finite value")
        if self.duration is not None and 0 < self.duration < MIN_DURATION_S:
            raise FieldError(
                "duration", f"{self.duration:g} s is too short: use at least {MIN_DURATION_S:g} s"
            )
        normal: dict[str, Any] = {}
        for name in ("duration", "tempo", "key", "meter", "genre", "instruments", "seed"):
            value = getattr(self, name)
            if value is None:
                continue
            try:
                normal[name] = getattr(Controls(**{name: value}).validated(), name)
            except BadInputError as exc:
                raise FieldError(name, str(exc)) from None
        update: dict[str, Any] = {"instruments": normal["instruments"]} if "instruments" in normal else {}
        if self.text is not None and not self.text.strip():
            update["text"] = None
        checked = self.model_copy(update=update)
        checked._check_combinations()
        return checked

    def _check_brief_combinations(self) -> None:
        """A brief is valid and comes alone: not with the inputs it was described from."""
        from weavewave.brief import MusicBrief

        try:
            MusicBrief.from_dict(self.brief or {}, origin="brief")
        except BadInputError as exc:
            raise FieldError("brief", str(exc).removeprefix("brief: ")) from None
        if self.text or self.image:
            raise FieldError("brief", "give either a brief or text/image inputs, not both: a brief already "
                             "holds what the inputs said")  # fmt: skip
        if self.audio is not None:
            raise FieldError("brief", "give either a brief or a reference tune (audio), not both: a restyled "
                             "brief already holds the reference's material")  # fmt: skip
        if self.describer == "mllm":
            raise FieldError("describer", "mllm reads the inputs, and a brief has already been described: drop "
                             "one of them")  # fmt: skip
        if self.uses_library():
            raise FieldError("library", "a brief already holds its references: edit its references list (a path "
                             "with lent [] lends on generate), or describe the inputs again")  # fmt: skip

    def _check_combinations(self) -> None:
        from weavewave.generators import BACKENDS

        if self.backend not in BACKENDS:
            raise FieldError("backend", f"unknown backend {self.backend!r}: use {' or '.join(BACKENDS)}")
        if self.brief is not None:
            self._check_brief_combinations()
        if (
            self.text is None
            and not self.image
            and self.video is None
            and self.audio is None
            and self.brief is None
        ):
            raise FieldError("text", "nothing to make music from: give @text, @image, @video, @audio (a reference "
                             "tune) or @brief")  # fmt: skip
        if self.instruction is not None and not self.instruction.strip():
            raise FieldError("instruction", "is empty: say what to change, e.g. 'as jazz' or 'calmer'")
        if self.reference_mode is not None and self.audio is None:
            raise FieldError(
                "reference_mode", "says how much of a reference tune to keep: give the tune with @audio"
            )
        if self.references is not None and self.references < 1:
            raise FieldError("references", f"{self.references}: take at least 1 reference, or drop @library")
        if self.keep_audio and self.video is None:
            raise FieldError("keep_audio", "keeps a video's own sound: give the video with @video")
        if self.audio is not None and self.video is not None:
            raise FieldError("audio", "a reference tune and a video cannot be combined yet: restyle the tune, or "
                             "score the video (its own sound is read from the video)")  # fmt: skip
        if self.refiner == "llm" and not self.instruction:
            raise FieldError(
                "refiner", "llm rewrites the brief from an @instruction: give one, or drop @refiner"
            )
        defaults = type(self).model_fields
        taken = BACKEND_FIELDS.get(self.backend, ())
        for owner, names in BACKEND_FIELDS.items():
            for name in names:
                if name not in taken and getattr(self, name) != defaults[name].default:
                    raise FieldError(name, f"is an option of the {owner} backend: also give @backend {owner}")
        if self.adapter_weights is not None and len(self.adapters()) < 2:
            raise FieldError("adapter_weights", "weighs several adapters in their fusion: give two or more "
                             "@adapter_embed, or drop the weights")  # fmt: skip
        if self.adapter_weights is not None and len(self.adapter_weights) != len(self.adapters()):
            raise FieldError("adapter_weights", f"{len(self.adapter_weights)} weights for {len(self.adapters())} "
                             "adapter(s): give one weight per @adapter_embed")  # fmt: skip
        if self.backend == "flow" and not self.model:
            raise FieldError("model", "the flow backend needs a trained model: give the folder `weavewave train "
                             "flow` wrote, or a MusicLDM pipeline (hub id or folder)")  # fmt: skip
        if self.backend in BACKEND_FIELDS and self.stems:
            raise FieldError("stems", f"the {self.backend} backend makes one mixed track and no stems: drop @stems, "
                             "or use @backend symbolic")  # fmt: skip
        from weavewave.evaluate.rerank import check_rerank

        try:
            check_rerank(self.candidates, self.rerank)
        except BadInputError as exc:
            raise FieldError("rerank" if self.candidates == 1 or "rerank" in str(exc)[:20] else "candidates",
                             str(exc)) from None  # fmt: skip

    def check_resources(self) -> None:
        """What the machine must have for this request: readable input files, and the models it names."""
        for name in PATH_FIELDS:
            value = getattr(self, name)
            for path in value if isinstance(value, list) else [value] if value is not None else []:
                check_readable(name, path)
        if self.uses_library():
            _check_library(self.library_dir())
        self.check_models()

    def check_models(self) -> None:
        """The models this request names are on this machine (or it says how to fetch them)."""
        from weavewave.neural.models import DEFAULT_MELODY_MODEL, DEFAULT_MODEL, locate

        checks = []
        if self.backend == "musicgen":
            melody = (self.steer == "symbolic" or self.musicgen_melody() is not None
                      or (self.uses_library() and self.reference_as in ("auto", "melody")))  # fmt: skip
            checks.append(("model", self.model or (DEFAULT_MELODY_MODEL if melody else DEFAULT_MODEL["generator"]),
                           "generator"))  # fmt: skip
        if self.describer == "mllm":
            checks.append(
                ("describer_model", self.describer_model or DEFAULT_MODEL["describer"], "describer")
            )
        if self.refiner == "llm":
            checks.append(("refiner_model", self.refiner_model or DEFAULT_MODEL["refiner"], "refiner"))
        if self.backend == "flow" and self.model:
            from weavewave.generators.flow.generator import resolve_model_kind
            from weavewave.generators.flow.model import read_config

            try:
                if resolve_model_kind(self.model) == "flow":  # a MusicLDM pipeline is checked as it loads
                    read_config(self.model)
            except BadInputError as exc:
                raise FieldError("model", str(exc)) from None
            if self.adapter_embed is not None:
                self.adapter_routes()  # every folder is an adapter, every input has one (or one line)
        for name, ref, role in checks:
            try:
                locate(ref, role)
            except BadInputError as exc:
                raise FieldError(name, str(exc)) from None
        if self.backend == "musicgen" and self.adapter is not None:
            from weavewave.train.adapter import read_meta

            try:
                read_meta(self.adapter)
            except BadInputError as exc:
                raise FieldError("adapter", str(exc)) from None

    # --- what the parts of weavewave read from it ---
    @property
    def semantic(self) -> bool | None:
        """How to read text: the MiniLM model (True), the lexicon (False) or whichever is installed (None)."""
        return TEXT_MODELS[self.text_model]

    def uses_library(self) -> bool:
        """Whether references come from a library (``library``, ``references`` or ``reference_track`` given)."""
        return self.library is not None or self.references is not None or bool(self.reference_track)

    def library_dir(self) -> str:
        """The library folder: ``library``, else the default (``$WEAVEWAVE_LIBRARY`` or the data folder)."""
        from weavewave.library.store import default_library_dir

        return self.library or str(default_library_dir())

    def musicgen_melody(self) -> str | None:
        """The recording MusicGen-Melody follows: ``melody``, or the reference tune when restyling."""
        if self.steer == "symbolic":
            return None
        return self.melody or self.audio

    def generator_options(self, *, only_given: bool = False) -> dict[str, Any]:
        """Keyword arguments of the backend's generator (:func:`weavewave.generators.get_generator`);
        with ``only_given``, only those whose request field was set (to override a brief's record)."""
        if only_given:
            return {
                k: v
                for k, v in self.generator_options().items()
                if OPTION_FIELD.get(k, k) in self.model_fields_set
            }
        if self.backend == "symbolic":
            return {"soundfont": self.soundfont, "stems": self.stems}
        if self.backend == "flow":
            flow: dict[str, Any] = dict(model=self.model, guidance_scale=self.guidance, steps=self.steps, solver=self.solver,
                        device=self.device, dtype=self.dtype, stems=self.stems)  # fmt: skip
            if isinstance(self.adapter_embed, str):
                flow.update(adapter_embed=self.adapter_embed, adapter_inputs=self.adapter_inputs())
            elif self.adapter_embed is not None:
                flow.update(adapter_embed=self.adapter_embed, adapter_inputs=self.adapter_routes())
                if self.adapter_weights is not None:
                    flow["adapter_weights"] = self.adapter_weights
            return flow
        options: dict[str, Any] = dict(
            model=self.model, steer=self.steer, melody=self.musicgen_melody(), top_k=self.top_k, top_p=self.top_p,
            temperature=self.temperature, guidance_scale=self.guidance, device=self.device, dtype=self.dtype,
            soundfont=self.soundfont, decoder=self.decoder, reference_as=self.reference_as)  # fmt: skip
        if self.adapter is not None:
            options["adapter"] = self.adapter
        if self.window is not None:
            options["window_s"] = self.window
        if self.prompt_seconds is not None:
            options["prompt_s"] = self.prompt_seconds
        return options

    def adapter_inputs(self) -> list[str]:
        """What goes through the flow backend's one adapter: the pictures for an image adapter, else the text
        (several adapters: :meth:`adapter_routes`)."""
        from weavewave.generators.flow.adapters import read_adapter_config

        assert isinstance(self.adapter_embed, str)
        try:
            source = read_adapter_config(self.adapter_embed).source
        except BadInputError as exc:
            raise FieldError("adapter_embed", str(exc)) from None
        if source == "image":
            return list(self.image)
        return [self.text] if self.text else []

    def adapters(self) -> list[str]:
        """The adapter folders given (``adapter_embed``: one or several)."""
        if self.adapter_embed is None:
            return []
        return [self.adapter_embed] if isinstance(self.adapter_embed, str) else list(self.adapter_embed)

    def adapter_routes(self) -> list[list[str]]:
        """Each adapter's inputs: the pictures for an image adapter, else the text. With several adapters an
        input that no adapter takes, or an adapter with no input, is refused with one line."""
        from weavewave.generators.flow.adapters import SOURCE_NOUNS, read_adapter_config

        paths = self.adapters()
        sources = []
        for path in paths:
            try:
                sources.append(read_adapter_config(path).source)
            except BadInputError as exc:
                raise FieldError("adapter_embed", str(exc)) from None
        routes = [list(self.image) if s == "image" else [self.text] if self.text else [] for s in sources]
        if len(paths) > 1:  # fused: every input goes through its own adapter
            if self.image and "image" not in sources:
                raise FieldError(
                    "image", "no @adapter_embed adapts images: add an image adapter, or drop the image"
                )
            if self.text and all(s == "image" for s in sources):
                raise FieldError("text", "no @adapter_embed adapts text: add a story or text adapter, or drop the "
                                 "text")  # fmt: skip
            for path, source, route in zip(paths, sources, routes, strict=True):
                if not route:
                    what = "@image PATH" if source == "image" else "@text TEXT"
                    raise FieldError(
                        "adapter_embed", f"the adapter {path} adapts {SOURCE_NOUNS[source]}: give {what}"
                    )
        return routes

    def given(self) -> dict[str, Any]:
        """The fields that differ from their defaults, as JSON-ready data (a job's stored parameters)."""
        return self.model_dump(mode="json", exclude_defaults=True)


def _check_text(name: str, value: str) -> None:
    from weavewave.io.text import check_text

    try:
        check_text(value, what="the text")
    except BadInputError as exc:
        raise FieldError(name, str(exc).removeprefix("the text ")) from None


def check_readable(name: str, path: str) -> None:
    """The path exists, is a regular file and opens for reading (without blocking on a FIFO)."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise FieldError(name, f"{path}: file not found; check the path") from None
    except OSError as exc:
        raise FieldError(
            name, f"{path}: cannot read it ({exc.strerror or exc}); check its permissions"
        ) from None
    try:
        mode = os.fstat(fd).st_mode
    finally:
        os.close(fd)
    if not stat.S_ISREG(mode):
        raise FieldError(name, f"{path} is not a regular file: give the path of a media file")


def _check_library(folder: str) -> None:
    """The library folder exists and is one (one clear line otherwise, before any work)."""
    from weavewave.library.store import MARKER_NAME

    path = os.path.expanduser(folder)
    if not os.path.isdir(path):
        raise FieldError("library", f"{folder}: no library there; create one with `weavewave library add "
                         f"MUSIC_FOLDER --library {folder}`")  # fmt: skip
    if not os.path.isfile(os.path.join(path, MARKER_NAME)):
        raise FieldError("library", f"{folder} is not a weavewave library (no {MARKER_NAME}); check the path")


def _field_error(exc: ValidationError) -> FieldError:
    """pydantic's first error as one FieldError naming the field, in words a user acts on."""
    error = exc.errors()[0]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        return cause
    name = str(error["loc"][0]) if error["loc"] else "request"
    if isinstance(cause, BadInputError):
        return FieldError(name, str(cause))
    given = error.get("input")
    allowed = choices(name) if name in Request.model_fields else None
    if allowed:
        return FieldError(name, f"unknown value {given!r}: use one of {', '.join(allowed)}")
    message = str(error["msg"]).removeprefix("Value error, ")
    return FieldError(name, f"{message[0].lower()}{message[1:]} (got {given!r})")


def choices(name: str) -> tuple[str, ...] | None:
    """The values a field takes, when it is a choice (``reference_mode`` -> melody, harmony, style)."""
    import typing

    kind = Request.model_fields[name].annotation
    for arg in (kind, *typing.get_args(kind)):
        if typing.get_origin(arg) is typing.Literal:
            return typing.get_args(arg)
    return None


def cli_flag(name: str) -> str:
    """The command-line spelling of a field: ``prompt_seconds`` -> ``--prompt-seconds``."""
    return "--" + name.replace("_", "-")
