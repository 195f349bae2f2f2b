"""Metrics that need model weights, through transformers: CLAP and CLIP.

- CLAP score: cosine between a track's CLAP audio embedding and its caption's (or prompt's) text embedding.
- Image-music alignment through a text pivot: CLIP (image vs caption) and CLAP (audio vs caption). The
  two models share no space, so the caption is the pivot; this is *not* ImageBind and is named
  ``image_music_via_text[clip+clap]``.
- A CLAP audio embedder for FAD (``fad[clap-<model>]``).
- A CLAP zero-shot tagger for the KL divergence between tag distributions of two sets.

Every model loads from a hub id or a local folder. torch and transformers are imported here only, when a
function runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from weavewave._deps import require
from weavewave.errors import BadInputError
from weavewave.music.styles import GENRES

DEFAULT_CLAP = "laion/clap-htsat-unfused"
DEFAULT_CLIP = "openai/clip-vit-base-patch32"
CLAP_ENV, CLIP_ENV = "WEAVEWAVE_CLAP_MODEL", "WEAVEWAVE_CLIP_MODEL"
CLAP_WINDOW_S = 10.0  # CLAP (HTS-AT) hears 10 s at a time; longer tracks are averaged over windows
MIN_VOCAB = 100  # a tokenizer smaller than this did not load (offline loads can fail silently)
MOOD_TAGS = ("happy", "sad", "calm", "energetic", "dark", "romantic", "epic", "dreamy", "tense", "playful")
TAG_TEMPLATE = "{} music"
_KL_EPS = 1e-8


class MissingWeightsError(BadInputError):
    """Model weights could not be found locally or fetched. The message says where to put them."""


@dataclass
class LoadedModel:
    """A transformers model, its processor, and the short name results are labelled with."""

    name: str
    model: Any
    processor: Any
    # The last audio embedded: (content digest, sample rate, windows). Evaluation asks for the same
    # track's embedding three times (CLAP score, FAD, tags); this makes that one forward pass.
    last_audio: tuple[bytes, int, np.ndarray] | None = None

    def __repr__(self) -> str:
        return f"LoadedModel({self.name!r}, {type(self.model).__name__})"


def _torch_transformers():
    what = "CLAP and CLIP metrics"
    return require("torch", "neural", what), require("transformers", "neural", what)


def short_name(family: str, name_or_path: str) -> str:
    """``clap-laion`` for a LAION hub id, else ``<family>-<last path part>``: the label in result keys."""
    last = Path(str(name_or_path).rstrip("/")).name or family
    if family == "clap" and "laion" in str(name_or_path).lower():
        return "clap-laion"
    return f"{family}-{last}"


def load_pretrained(
    label: str,
    ref: str,
    *,
    model_type: str,
    model_cls: str,
    processor_cls: str,
    default: str,
    flag: str,
    name: str,
) -> LoadedModel:
    """A transformers model and its processor (or feature extractor) from a hub id or folder, checked to be
    a ``model_type`` model. Missing weights raise :class:`MissingWeightsError` saying how to get them."""
    _, transformers = _torch_transformers()
    from weavewave.neural.models import looks_like_path, quiet_transformers

    quiet_transformers()
    path = Path(ref).expanduser()
    local = path.exists()
    if not local and looks_like_path(ref):
        raise MissingWeightsError(
            f"{label} model folder {ref} does not exist: check the path given to {flag}, "
            f"or give a hub id such as {default}"
        )
    where = str(path) if local else ref
    try:
        config = transformers.AutoConfig.from_pretrained(where)
        if config.model_type != model_type:
            raise BadInputError(
                f"{ref} holds a {config.model_type!r} model, not {label} ({model_type!r}): point "
                f"{flag} at a {label} folder or hub id such as {default}"
            )
        model = getattr(transformers, model_cls).from_pretrained(where)
        processor = getattr(transformers, processor_cls).from_pretrained(where)
    except (OSError, ValueError) as exc:
        place = "that folder" if local else f"the Hugging Face cache (hub id {ref!r})"
        raise MissingWeightsError(
            f"{label} weights not found in {place}: download them once with "
            f"`hf download {default if local else ref} --local-dir DIR` on a machine with internet, or pass a "
            f"local folder with {flag} DIR ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
        ) from None
    model.eval()
    return LoadedModel(name, model, processor)


def _load_text_audio(family: str, ref: str, model_cls: str, processor_cls: str, default: str) -> LoadedModel:
    """CLAP or CLIP, with a check that the tokenizer really loaded (offline loads can fail silently)."""
    loaded = load_pretrained(
        family.upper(),
        ref,
        model_type=family,
        model_cls=model_cls,
        processor_cls=processor_cls,
        default=default,
        flag=f"--{family}-model",
        name=short_name(family, ref),
    )
    tokenizer = loaded.processor.tokenizer
    if len(tokenizer) < MIN_VOCAB:
        raise MissingWeightsError(
            f"the {family.upper()} tokenizer from {ref} has only {len(tokenizer)} "
            "tokens: the download is incomplete; fetch the model again"
        )
    return loaded


def load_clap(name_or_path: str | Path | None = None) -> LoadedModel:
    """A CLAP model (``ClapModel`` + ``ClapProcessor``): argument, else $WEAVEWAVE_CLAP_MODEL, else LAION's.

    A MusicLDM pipeline (folder or cached hub id) gives its own CLAP, so adapters can be trained into the
    space that pipeline is conditioned on.
    """
    ref = str(name_or_path or os.environ.get(CLAP_ENV) or DEFAULT_CLAP)
    from weavewave.generators.flow.ldm import pipeline_class

    if pipeline_class(ref) is not None:
        return _load_pipeline_clap(ref)
    return _load_text_audio(
        "clap",
        ref,
        "ClapModel",
        "ClapProcessor",
        DEFAULT_CLAP,
    )


def _load_pipeline_clap(ref: str) -> LoadedModel:
    """The CLAP inside a diffusers pipeline: ``text_encoder/``, ``tokenizer/`` and ``feature_extractor/``."""
    _, transformers = _torch_transformers()
    from weavewave.neural.models import local_path, quiet_transformers

    quiet_transformers()
    local = local_path(ref)
    where = str(local) if local is not None else ref
    try:
        model = transformers.ClapModel.from_pretrained(where, subfolder="text_encoder")
        tokenizer = transformers.AutoTokenizer.from_pretrained(where, subfolder="tokenizer")
        features = transformers.ClapFeatureExtractor.from_pretrained(where, subfolder="feature_extractor")
    except (OSError, ValueError) as exc:
        raise MissingWeightsError(
            f"the CLAP of the pipeline {ref} did not load (it needs text_encoder/, tokenizer/ and "
            f"feature_extractor/): {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        ) from None
    if len(tokenizer) < MIN_VOCAB:
        raise MissingWeightsError(
            f"the CLAP tokenizer of {ref} has only {len(tokenizer)} tokens: the download is incomplete; "
            "fetch the pipeline again"
        )
    model.eval()
    processor = transformers.ClapProcessor(feature_extractor=features, tokenizer=tokenizer)
    return LoadedModel(short_name("clap", ref), model, processor)


def load_clip(name_or_path: str | Path | None = None) -> LoadedModel:
    """A CLIP model (``CLIPModel`` + ``CLIPProcessor``): argument, else $WEAVEWAVE_CLIP_MODEL, else OpenAI's."""
    return _load_text_audio(
        "clip",
        str(name_or_path or os.environ.get(CLIP_ENV) or DEFAULT_CLIP),
        "CLIPModel",
        "CLIPProcessor",
        DEFAULT_CLIP,
    )


def _pooled(output: Any) -> Any:
    """transformers 5 returns a model output from ``get_*_features``; older versions a tensor."""
    return getattr(output, "pooler_output", output)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-12)


def clap_audio_windows(clap: LoadedModel, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Unit CLAP audio embeddings of consecutive ``CLAP_WINDOW_S`` windows [shape=(windows, dim)]."""
    import hashlib

    digest = hashlib.blake2b(np.ascontiguousarray(audio).tobytes(), digest_size=16).digest()
    if clap.last_audio is not None and clap.last_audio[:2] == (digest, sample_rate):
        return clap.last_audio[2]
    windows = _clap_audio_windows(clap, audio, sample_rate)
    clap.last_audio = (digest, sample_rate, windows)
    return windows


def _clap_audio_windows(clap: LoadedModel, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    from weavewave.jitcache import librosa as _get_librosa

    librosa = _get_librosa()

    torch, _ = _torch_transformers()
    fe = clap.processor.feature_extractor
    y = audio.mean(axis=1) if audio.ndim == 2 else audio
    y = librosa.resample(y.astype(np.float32), orig_sr=sample_rate, target_sr=fe.sampling_rate)
    win = int(CLAP_WINDOW_S * fe.sampling_rate)
    windows = [y[i : i + win] for i in range(0, max(1, len(y) - win // 2), win)] or [y]
    inputs = fe(windows, sampling_rate=fe.sampling_rate, return_tensors="pt")
    with torch.no_grad():
        emb = _pooled(
            clap.model.get_audio_features(
                **{k: v for k, v in inputs.items() if k in ("input_features", "is_longer")}
            )
        )
    return _unit(emb.float().numpy())


def _tokens(loaded: LoadedModel, texts: list[str]) -> Any:
    """Tokenised ``texts``, cut to what the text model has positions for: a tokenizer saved without its
    ``model_max_length`` would otherwise pass a long caption through and overrun the position table."""
    cfg = loaded.model.config.text_config
    # RoBERTa-style position ids (CLAP's text tower) start after the padding index.
    offset = cfg.pad_token_id + 1 if cfg.model_type.startswith("clap") and cfg.pad_token_id is not None else 0
    limit = min(loaded.processor.tokenizer.model_max_length, cfg.max_position_embeddings - offset)
    return loaded.processor.tokenizer(
        texts, padding=True, truncation=True, max_length=limit, return_tensors="pt"
    )


def _text_features(loaded: LoadedModel, texts: list[str]) -> np.ndarray:
    """Unit text embeddings [shape=(len(texts), dim)] of a CLAP or CLIP model (the same call on both)."""
    torch, _ = _torch_transformers()
    tokens = _tokens(loaded, texts)
    with torch.no_grad():
        emb = _pooled(
            loaded.model.get_text_features(
                input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
            )
        )
    return _unit(emb.float().numpy())


def clap_text(clap: LoadedModel, texts: list[str]) -> np.ndarray:
    """Unit CLAP text embeddings [shape=(len(texts), dim)]."""
    return _text_features(clap, texts)


def clap_audio(clap: LoadedModel, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """One unit CLAP embedding for a whole track [shape=(dim,)]: the mean of its windows, renormalised."""
    return _unit(clap_audio_windows(clap, audio, sample_rate).mean(axis=0))


def clap_score(clap: LoadedModel, audio: np.ndarray, sample_rate: int, text: str) -> float:
    """Cosine between the track's CLAP audio embedding and ``text``'s (-1..1; higher agrees more)."""
    return float(clap_audio(clap, audio, sample_rate) @ clap_text(clap, [text])[0])


def clip_images(clip: LoadedModel, images: list[Any]) -> np.ndarray:
    """Unit CLIP image embeddings [shape=(n, dim)] of PIL images (RGB)."""
    torch, _ = _torch_transformers()
    pixels = clip.processor.image_processor(images=images, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        emb = _pooled(clip.model.get_image_features(pixel_values=pixels))
    return _unit(emb.float().numpy())


def clip_text(clip: LoadedModel, texts: list[str]) -> np.ndarray:
    """Unit CLIP text embeddings [shape=(len(texts), dim)], in the space of :func:`clip_images`."""
    return _text_features(clip, texts)


def clip_image_text(clip: LoadedModel, image: str | Path, text: str) -> float:
    """Cosine between a photo's CLIP image embedding and ``text``'s CLIP text embedding."""
    from PIL import Image

    torch, _ = _torch_transformers()
    try:
        with Image.open(image) as im:
            rgb = im.convert("RGB")
    except OSError as exc:
        raise BadInputError(f"cannot read image {image}: {exc}") from None
    pixels = clip.processor.image_processor(images=rgb, return_tensors="pt")["pixel_values"]
    tokens = _tokens(clip, [text])
    with torch.no_grad():
        img = _pooled(clip.model.get_image_features(pixel_values=pixels)).float().numpy()
        txt = (
            _pooled(
                clip.model.get_text_features(
                    input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
                )
            )
            .float()
            .numpy()
        )
    return float(_unit(img)[0] @ _unit(txt)[0])


def image_music_via_text(
    clip: LoadedModel, clap: LoadedModel, image: str | Path, audio: np.ndarray, sample_rate: int, caption: str
) -> dict[str, float]:
    """Image-music alignment with the caption as pivot: both cosines and their mean.

    ``image_text`` (CLIP) says whether the caption describes the photo; ``audio_text`` (CLAP) whether the
    music sounds like the caption; the mean is high only when the chain holds at both ends.
    """
    it = clip_image_text(clip, image, caption)
    at = clap_score(clap, audio, sample_rate, caption)
    return {"image_text": it, "audio_text": at, "mean": (it + at) / 2}


class ClapEmbedder:
    """CLAP audio embeddings per 10 s window, for ``fad[clap-...]``."""

    def __init__(self, clap: LoadedModel) -> None:
        self.clap = clap
        self.name = clap.name

    def __repr__(self) -> str:
        return f"ClapEmbedder({self.name!r})"

    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return clap_audio_windows(self.clap, audio, sample_rate)


def default_tags() -> list[str]:
    """The zero-shot vocabulary: every genre weavewave knows and ten moods."""
    return list(GENRES) + list(MOOD_TAGS)


class ClapTagger:
    """Zero-shot tags: softmax over CLAP's scaled cosines between a track and "<tag> music" prompts."""

    def __init__(self, clap: LoadedModel, tags: list[str] | None = None) -> None:
        self.clap = clap
        self.tags = tags or default_tags()
        self._text = clap_text(clap, [TAG_TEMPLATE.format(t) for t in self.tags])
        scale = getattr(clap.model, "logit_scale_a", None)
        self.scale = float(scale.detach().exp()) if scale is not None else 100.0

    def __repr__(self) -> str:
        return f"ClapTagger({self.clap.name!r}, {len(self.tags)} tags)"

    def probabilities(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Tag distribution of one track [shape=(len(tags),)], summing to 1."""
        logits = self.scale * (self._text @ clap_audio(self.clap, audio, sample_rate))
        p = np.exp(logits - logits.max())
        return p / p.sum()


def kl_divergence(reference: np.ndarray, generated: np.ndarray) -> float:
    """KL(reference || generated) in nats between two tag distributions (each averaged over its set)."""
    p = np.asarray(reference, float) + _KL_EPS
    q = np.asarray(generated, float) + _KL_EPS
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum(p * np.log(p / q)))
