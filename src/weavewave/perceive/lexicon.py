"""Word tables for reading a text prompt: data only, no logic.

Mood is placed on the circumplex model of affect (Russell 1980, "A circumplex model of affect", J.
Personality and Social Psychology 39(6)): *valence* runs from unpleasant (-1) to pleasant (+1) and
*arousal* from calm/sleepy (-1) to excited/tense (+1). The numbers below are this project's curated
estimates on that -1..1 scale. They were set by hand, inspired by the ordering found in published
affective norms such as Warriner, Kuperman & Brysbaert (2013, "Norms of valence, arousal, and dominance
for 13,915 English lemmas") and the ANEW list (Bradley & Lang 1999); they are not copied from those
norms and are not published values. They also lean towards what the words mean *for music*: "rain" is
mildly negative and calm, "neon" is energetic and points at electronic music.

Each entry may carry tags (words a caption can reuse), a caption phrase for scene words, and genre or
instrument hints (canonical names from :mod:`weavewave.music.styles` and :mod:`weavewave.music.instruments`).
Keys are lower case; multi-word keys use single spaces, and hyphens in the prompt are read as spaces.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WordEntry:
    """What one mood or scene word says about the music."""

    valence: float  # -1..1
    arousal: float  # -1..1
    tags: tuple[str, ...] = ()
    phrase: str | None = None  # scene words: how a caption names the scene ("rain", "the city at night")
    genre: str | None = None  # a genre the word hints at
    instruments: tuple[str, ...] = ()  # timbres that suit the word


def _w(
    valence: float,
    arousal: float,
    *tags: str,
    phrase: str | None = None,
    genre: str | None = None,
    instruments: tuple[str, ...] = (),
) -> WordEntry:
    return WordEntry(valence, arousal, tags, phrase, genre, instruments)


# --------------------------------------------------------------------------------------------------
# Mood words: adjectives, nouns and verbs of feeling.
# --------------------------------------------------------------------------------------------------
MOOD_WORDS: dict[str, WordEntry] = {
    # pleasant, high arousal
    "happy": _w(0.8, 0.4, "happy"),
    "happiness": _w(0.8, 0.4, "happy"),
    "joy": _w(0.85, 0.55, "joyful"),
    "joyful": _w(0.85, 0.55, "joyful"),
    "joyous": _w(0.85, 0.55, "joyful"),
    "cheerful": _w(0.75, 0.45, "cheerful"),
    "fun": _w(0.7, 0.55, "fun"),
    "playful": _w(0.65, 0.45, "playful"),
    "excited": _w(0.65, 0.8, "exciting"),
    "exciting": _w(0.6, 0.8, "exciting"),
    "thrilling": _w(0.5, 0.85, "thrilling"),
    "energetic": _w(0.5, 0.8, "energetic"),
    "energy": _w(0.4, 0.7, "energetic"),
    "lively": _w(0.6, 0.65, "lively"),
    "euphoric": _w(0.85, 0.85, "euphoric"),
    "ecstatic": _w(0.85, 0.85, "euphoric"),
    "triumphant": _w(0.75, 0.7, "triumphant"),
    "victory": _w(0.75, 0.65, "triumphant"),
    "victorious": _w(0.75, 0.65, "triumphant"),
    "heroic": _w(0.6, 0.7, "heroic"),
    "celebration": _w(0.8, 0.65, "celebratory"),
    "celebrate": _w(0.8, 0.65, "celebratory"),
    "festive": _w(0.75, 0.6, "festive"),
    "bright": _w(0.6, 0.3, "bright"),
    "sunny": _w(0.7, 0.3, "sunny"),
    "groovy": _w(0.6, 0.55, "groovy"),
    "funky": _w(0.55, 0.6, "funky"),
    "bouncy": _w(0.6, 0.6, "bouncy"),
    "uplifting": _w(0.75, 0.45, "uplifting"),
    "inspiring": _w(0.7, 0.45, "inspiring"),
    "hopeful": _w(0.6, 0.2, "hopeful"),
    "hope": _w(0.55, 0.2, "hopeful"),
    "optimistic": _w(0.65, 0.3, "optimistic"),
    "proud": _w(0.6, 0.4, "proud"),
    "confident": _w(0.55, 0.4, "confident"),
    "epic": _w(0.4, 0.75, "epic"),
    "majestic": _w(0.55, 0.45, "majestic"),
    "grand": _w(0.5, 0.45, "grand"),
    "adventure": _w(0.55, 0.6, "adventurous"),
    "adventurous": _w(0.55, 0.6, "adventurous"),
    "powerful": _w(0.3, 0.75, "powerful"),
    "bold": _w(0.4, 0.6, "bold"),
    "wild": _w(0.2, 0.85, "wild"),
    "party": _w(0.75, 0.75, "festive", phrase="a party"),
    "dancing": _w(0.7, 0.7, "danceable"),
    "summer": _w(0.7, 0.4, "summery", phrase="summer"),
    # pleasant, low arousal
    "calm": _w(0.45, -0.7, "calm"),
    "peaceful": _w(0.6, -0.7, "peaceful"),
    "peace": _w(0.6, -0.65, "peaceful"),
    "serene": _w(0.6, -0.7, "serene"),
    "tranquil": _w(0.55, -0.75, "tranquil"),
    "relaxed": _w(0.55, -0.6, "relaxed"),
    "relaxing": _w(0.55, -0.6, "relaxed"),
    "relax": _w(0.5, -0.6, "relaxed"),
    "chill": _w(0.45, -0.5, "chilled"),
    "chilled": _w(0.45, -0.5, "chilled"),
    "mellow": _w(0.4, -0.5, "mellow"),
    "gentle": _w(0.45, -0.55, "gentle"),
    "soft": _w(0.3, -0.5, "soft"),
    "soothing": _w(0.55, -0.65, "soothing"),
    "cozy": _w(0.6, -0.45, "cozy"),
    "cosy": _w(0.6, -0.45, "cozy"),
    "warm": _w(0.55, -0.2, "warm"),
    "tender": _w(0.6, -0.3, "tender"),
    "love": _w(0.8, 0.2, "loving"),
    "loving": _w(0.75, 0.1, "loving"),
    "romantic": _w(0.7, 0.05, "romantic"),
    "romance": _w(0.7, 0.05, "romantic"),
    "sweet": _w(0.65, -0.1, "sweet"),
    "dreamy": _w(0.45, -0.45, "dreamy"),
    "dream": _w(0.4, -0.4, "dreamy"),
    "content": _w(0.55, -0.4, "content"),
    "sleepy": _w(0.2, -0.85, "sleepy"),
    "lullaby": _w(0.5, -0.8, "lullaby", instruments=("Music Box", "Celesta")),
    "lullabies": _w(0.5, -0.8, "lullaby", instruments=("Music Box", "Celesta")),
    "bedtime": _w(0.45, -0.8, "sleepy"),
    "anthem": _w(0.55, 0.5, "anthemic"),
    "carol": _w(0.7, 0.2, "festive"),
    "hymn": _w(0.4, -0.4, "reverent"),
    "nocturne": _w(0.2, -0.6, "nocturnal"),
    "march": _w(0.2, 0.5, "martial"),
    "fanfare": _w(0.6, 0.7, "triumphant"),
    "meditative": _w(0.4, -0.8, "meditative", genre="ambient"),
    "zen": _w(0.45, -0.8, "meditative", genre="ambient"),
    "nostalgic": _w(0.1, -0.35, "nostalgic"),
    "nostalgia": _w(0.1, -0.35, "nostalgic"),
    "wistful": _w(-0.1, -0.4, "wistful"),
    "bittersweet": _w(0.0, -0.3, "bittersweet"),
    "innocent": _w(0.5, -0.3, "innocent"),
    "graceful": _w(0.5, -0.3, "graceful"),
    "elegant": _w(0.5, -0.2, "elegant"),
    "floating": _w(0.35, -0.6, "floating"),
    "ethereal": _w(0.35, -0.5, "ethereal"),
    "magical": _w(0.6, 0.2, "magical"),
    "whimsical": _w(0.55, 0.3, "whimsical"),
    "beautiful": _w(0.7, 0.0, "beautiful"),
    "lazy": _w(0.3, -0.7, "lazy"),
    "quiet": _w(0.2, -0.7, "quiet"),
    "slowly": _w(0.0, -0.5),
    # unpleasant, low arousal
    "sad": _w(-0.7, -0.35, "sad"),
    "sadness": _w(-0.7, -0.35, "sad"),
    "sorrow": _w(-0.75, -0.35, "sorrowful"),
    "sorrowful": _w(-0.75, -0.35, "sorrowful"),
    "melancholy": _w(-0.45, -0.45, "melancholic"),
    "melancholic": _w(-0.45, -0.45, "melancholic"),
    "lonely": _w(-0.6, -0.4, "lonely"),
    "loneliness": _w(-0.6, -0.4, "lonely"),
    "alone": _w(-0.35, -0.35, "lonely"),
    "gloomy": _w(-0.55, -0.45, "gloomy"),
    "somber": _w(-0.5, -0.45, "somber"),
    "sombre": _w(-0.5, -0.45, "somber"),
    "depressed": _w(-0.8, -0.6, "bleak"),
    "depressing": _w(-0.75, -0.5, "bleak"),
    "bleak": _w(-0.65, -0.4, "bleak"),
    "grief": _w(-0.85, -0.3, "grieving"),
    "grieving": _w(-0.85, -0.3, "grieving"),
    "mourning": _w(-0.8, -0.4, "mournful"),
    "mournful": _w(-0.8, -0.4, "mournful"),
    "heartbreak": _w(-0.8, -0.1, "heartbroken"),
    "heartbroken": _w(-0.8, -0.1, "heartbroken"),
    "tears": _w(-0.6, -0.1, "tearful"),
    "crying": _w(-0.65, 0.0, "tearful"),
    "cry": _w(-0.6, 0.0, "tearful"),
    "loss": _w(-0.7, -0.2, "sorrowful"),
    "lost": _w(-0.45, -0.1, "lost"),
    "goodbye": _w(-0.4, -0.25, "farewell"),
    "farewell": _w(-0.35, -0.25, "farewell"),
    "regret": _w(-0.6, -0.2, "regretful"),
    "tired": _w(-0.3, -0.75, "weary"),
    "weary": _w(-0.35, -0.65, "weary"),
    "bored": _w(-0.4, -0.7, "bored"),
    "empty": _w(-0.45, -0.55, "empty"),
    "cold": _w(-0.3, -0.2, "cold"),
    "grey": _w(-0.3, -0.4, "grey"),
    "gray": _w(-0.3, -0.4, "grey"),
    "dark": _w(-0.45, 0.05, "dark"),
    "darkness": _w(-0.5, 0.0, "dark"),
    "hopeless": _w(-0.8, -0.4, "hopeless"),
    "despair": _w(-0.85, 0.0, "despairing"),
    "solemn": _w(-0.2, -0.45, "solemn"),
    "haunting": _w(-0.3, 0.1, "haunting"),
    "broken": _w(-0.6, -0.1, "broken"),
    "pain": _w(-0.75, 0.3, "pained"),
    # unpleasant, high arousal
    "angry": _w(-0.7, 0.85, "angry"),
    "anger": _w(-0.7, 0.85, "angry"),
    "rage": _w(-0.75, 0.9, "furious"),
    "furious": _w(-0.75, 0.9, "furious"),
    "aggressive": _w(-0.45, 0.9, "aggressive"),
    "fear": _w(-0.75, 0.75, "fearful"),
    "afraid": _w(-0.7, 0.65, "fearful"),
    "scared": _w(-0.7, 0.7, "fearful"),
    "scary": _w(-0.65, 0.7, "scary"),
    "terrifying": _w(-0.8, 0.85, "terrifying"),
    "horror": _w(-0.8, 0.75, "horror"),
    "creepy": _w(-0.6, 0.45, "creepy"),
    "eerie": _w(-0.45, 0.35, "eerie"),
    "sinister": _w(-0.6, 0.45, "sinister"),
    "ominous": _w(-0.55, 0.4, "ominous"),
    "menacing": _w(-0.6, 0.55, "menacing"),
    "tense": _w(-0.5, 0.65, "tense"),
    "tension": _w(-0.45, 0.6, "tense"),
    "suspense": _w(-0.35, 0.6, "suspenseful"),
    "suspenseful": _w(-0.35, 0.6, "suspenseful"),
    "anxious": _w(-0.6, 0.7, "anxious"),
    "anxiety": _w(-0.6, 0.7, "anxious"),
    "nervous": _w(-0.5, 0.65, "nervous"),
    "panic": _w(-0.75, 0.9, "panicked"),
    "chaos": _w(-0.5, 0.9, "chaotic"),
    "chaotic": _w(-0.5, 0.9, "chaotic"),
    "violent": _w(-0.75, 0.85, "violent"),
    "danger": _w(-0.6, 0.75, "dangerous"),
    "dangerous": _w(-0.6, 0.75, "dangerous"),
    "urgent": _w(-0.25, 0.8, "urgent"),
    "frantic": _w(-0.4, 0.9, "frantic"),
    "stress": _w(-0.6, 0.7, "stressed"),
    "mysterious": _w(-0.1, 0.15, "mysterious"),
    "mystery": _w(-0.1, 0.15, "mysterious"),
    "dramatic": _w(-0.05, 0.6, "dramatic"),
    "intense": _w(-0.1, 0.8, "intense"),
    "haunted": _w(-0.6, 0.4, "haunted", phrase="a haunted place"),
    "death": _w(-0.8, -0.1, "mournful"),
    "dead": _w(-0.7, -0.2, "mournful"),
    "war": _w(-0.75, 0.75, "martial", phrase="war", genre="cinematic"),
}

# --------------------------------------------------------------------------------------------------
# Scene words: places, times, weather, occasions. They carry a caption phrase.
# --------------------------------------------------------------------------------------------------
SCENE_WORDS: dict[str, WordEntry] = {
    "rain": _w(-0.2, -0.35, "rainy", phrase="rain", instruments=("Electric Piano 1",)),
    "rainy": _w(-0.25, -0.35, "rainy", phrase="rain", instruments=("Electric Piano 1",)),
    "raining": _w(-0.25, -0.35, "rainy", phrase="rain", instruments=("Electric Piano 1",)),
    "storm": _w(-0.45, 0.75, "stormy", phrase="a storm", instruments=("Timpani", "Tremolo Strings")),
    "stormy": _w(-0.45, 0.7, "stormy", phrase="a storm", instruments=("Timpani", "Tremolo Strings")),
    "thunder": _w(-0.4, 0.75, "stormy", phrase="thunder", instruments=("Timpani",)),
    "snow": _w(0.3, -0.5, "wintry", phrase="snow", instruments=("Celesta",)),
    "snowy": _w(0.3, -0.5, "wintry", phrase="snow", instruments=("Celesta",)),
    "winter": _w(0.0, -0.4, "wintry", phrase="winter", instruments=("Celesta",)),
    "autumn": _w(0.05, -0.35, "autumnal", phrase="autumn", instruments=("Acoustic Guitar (nylon)",)),
    "fall": _w(0.0, -0.3, "autumnal", phrase="autumn"),
    "spring": _w(0.6, 0.2, "fresh", phrase="spring", instruments=("Flute",)),
    "night": _w(-0.05, -0.4, "nocturnal", phrase="the night"),
    "midnight": _w(-0.1, -0.3, "nocturnal", phrase="midnight"),
    "evening": _w(0.15, -0.45, "evening", phrase="the evening"),
    "dusk": _w(0.05, -0.45, "twilight", phrase="dusk"),
    "twilight": _w(0.05, -0.45, "twilight", phrase="twilight"),
    "sunset": _w(0.45, -0.4, "golden", phrase="a sunset"),
    "sunrise": _w(0.6, 0.1, "hopeful", phrase="a sunrise"),
    "dawn": _w(0.5, -0.1, "hopeful", phrase="dawn"),
    "morning": _w(0.45, 0.0, "fresh", phrase="the morning"),
    "city": _w(0.0, 0.35, "urban", phrase="the city"),
    "street": _w(0.0, 0.3, "urban", phrase="the street"),
    "streets": _w(0.0, 0.3, "urban", phrase="the streets"),
    "neon": _w(
        0.2, 0.55, "neon", phrase="neon lights", genre="electronic", instruments=("Lead 2 (sawtooth)",)
    ),
    "cyberpunk": _w(
        -0.1,
        0.7,
        "futuristic",
        phrase="a cyberpunk city",
        genre="electronic",
        instruments=("Synth Bass 1", "Lead 2 (sawtooth)"),
    ),
    "club": _w(0.5, 0.8, "danceable", phrase="a club", genre="electronic"),
    "rave": _w(0.55, 0.9, "danceable", phrase="a rave", genre="electronic"),
    "ocean": _w(0.35, -0.2, "oceanic", phrase="the ocean", instruments=("Pad 7 (halo)",)),
    "sea": _w(0.3, -0.2, "oceanic", phrase="the sea", instruments=("Pad 7 (halo)",)),
    "waves": _w(0.35, -0.1, "oceanic", phrase="the waves"),
    "beach": _w(0.7, 0.3, "sunny", phrase="a beach", instruments=("Steel Drums", "Marimba")),
    "tropical": _w(0.7, 0.45, "tropical", phrase="the tropics", instruments=("Steel Drums", "Marimba")),
    "forest": _w(0.35, -0.3, "pastoral", phrase="a forest", instruments=("Flute",)),
    "woods": _w(0.3, -0.3, "pastoral", phrase="the woods", instruments=("Flute",)),
    "meadow": _w(0.6, -0.4, "pastoral", phrase="a meadow", instruments=("Flute",)),
    "river": _w(0.4, -0.3, "flowing", phrase="a river", instruments=("Orchestral Harp",)),
    "mountain": _w(0.45, 0.1, "majestic", phrase="the mountains", instruments=("French Horn",)),
    "mountains": _w(0.45, 0.1, "majestic", phrase="the mountains", instruments=("French Horn",)),
    "desert": _w(-0.05, -0.2, "arid", phrase="a desert", instruments=("Acoustic Guitar (nylon)",)),
    "space": _w(0.15, -0.4, "cosmic", phrase="outer space", genre="ambient", instruments=("Pad 7 (halo)",)),
    "stars": _w(0.45, -0.45, "starlit", phrase="the stars", instruments=("Celesta",)),
    "galaxy": _w(0.3, -0.2, "cosmic", phrase="the galaxy", instruments=("Pad 7 (halo)",)),
    "moon": _w(0.3, -0.5, "moonlit", phrase="the moon"),
    "moonlight": _w(0.4, -0.55, "moonlit", phrase="moonlight"),
    "battle": _w(
        -0.5,
        0.9,
        "epic",
        "martial",
        phrase="a battle",
        genre="cinematic",
        instruments=("Brass Section", "Timpani", "Taiko Drum"),
    ),
    "fight": _w(-0.55, 0.85, "combative", phrase="a fight", instruments=("Taiko Drum",)),
    "chase": _w(-0.2, 0.9, "urgent", phrase="a chase", instruments=("String Ensemble 1",)),
    "wedding": _w(
        0.8, 0.3, "celebratory", phrase="a wedding", instruments=("String Ensemble 1", "Church Organ")
    ),
    "funeral": _w(
        -0.8, -0.45, "mournful", "solemn", phrase="a funeral", instruments=("Church Organ", "Cello")
    ),
    "christmas": _w(
        0.75, 0.35, "festive", phrase="Christmas", instruments=("Tubular Bells", "Celesta", "Glockenspiel")
    ),
    "xmas": _w(0.75, 0.35, "festive", phrase="Christmas", instruments=("Tubular Bells", "Celesta")),
    "halloween": _w(-0.2, 0.5, "spooky", phrase="Halloween", instruments=("Pad 6 (metallic)",)),
    "birthday": _w(0.8, 0.55, "celebratory", phrase="a birthday"),
    "church": _w(0.2, -0.4, "sacred", phrase="a church", instruments=("Church Organ", "Choir Aahs")),
    "cathedral": _w(0.2, -0.3, "sacred", phrase="a cathedral", instruments=("Church Organ", "Choir Aahs")),
    "cafe": _w(0.5, -0.2, "cozy", phrase="a cafe", genre="jazz"),
    "coffee": _w(0.45, -0.1, "cozy", phrase="coffee"),
    "bar": _w(0.2, 0.2, "smoky", phrase="a bar", genre="jazz"),
    "tavern": _w(0.6, 0.5, "rustic", phrase="a tavern", genre="folk", instruments=("Fiddle", "Accordion")),
    "campfire": _w(
        0.55, -0.3, "rustic", phrase="a campfire", genre="folk", instruments=("Acoustic Guitar (steel)",)
    ),
    "village": _w(0.45, -0.1, "rustic", phrase="a village", genre="folk"),
    "countryside": _w(0.5, -0.35, "pastoral", phrase="the countryside", genre="folk"),
    "highway": _w(0.35, 0.45, "free", phrase="the open road"),
    "road": _w(0.25, 0.3, "travelling", phrase="the road"),
    "train": _w(0.2, 0.3, "travelling", phrase="a train journey"),
    "childhood": _w(0.5, -0.2, "innocent", phrase="childhood", instruments=("Music Box", "Celesta")),
    "kingdom": _w(0.4, 0.4, "regal", phrase="a kingdom", genre="cinematic", instruments=("French Horn",)),
    "castle": _w(
        0.2, 0.2, "regal", phrase="a castle", genre="cinematic", instruments=("French Horn", "Harpsichord")
    ),
    "dragon": _w(-0.1, 0.75, "mythic", phrase="dragons", genre="cinematic"),
    "tokyo": _w(0.2, 0.35, "urban", phrase="Tokyo", instruments=("Koto",)),
    "japan": _w(0.35, -0.1, "japanese", phrase="Japan", instruments=("Koto", "Shakuhachi")),
    "paris": _w(0.55, 0.1, "parisian", phrase="Paris", instruments=("Accordion",)),
    "scotland": _w(0.3, 0.2, "celtic", phrase="Scotland", genre="folk", instruments=("Bag pipe",)),
    "ireland": _w(0.4, 0.3, "celtic", phrase="Ireland", genre="folk", instruments=("Fiddle", "Flute")),
    "western": _w(
        0.1, 0.3, "western", phrase="the Wild West", genre="folk", instruments=("Harmonica", "Banjo")
    ),
    "cowboy": _w(
        0.2, 0.3, "western", phrase="the Wild West", genre="folk", instruments=("Harmonica", "Banjo")
    ),
    "robot": _w(0.0, 0.4, "mechanical", phrase="robots", genre="electronic"),
    "future": _w(0.3, 0.3, "futuristic", phrase="the future", genre="electronic"),
    "futuristic": _w(0.3, 0.4, "futuristic", phrase="the future", genre="electronic"),
    "retro": _w(0.45, 0.35, "retro", genre="electronic"),
    "arcade": _w(0.6, 0.7, "retro", phrase="an arcade", genre="electronic", instruments=("Lead 1 (square)",)),
    "gym": _w(0.3, 0.85, "driving", phrase="a workout", genre="electronic"),
    "workout": _w(0.3, 0.85, "driving", phrase="a workout", genre="electronic"),
    "study": _w(0.3, -0.5, "focused", phrase="studying", genre="lofi"),
    "studying": _w(0.3, -0.5, "focused", phrase="studying", genre="lofi"),
    "focus": _w(0.3, -0.4, "focused", genre="lofi"),
    "sleep": _w(0.35, -0.9, "sleepy", phrase="sleep", genre="ambient"),
    "meditation": _w(0.45, -0.85, "meditative", phrase="meditation", genre="ambient"),
    "hero": _w(
        0.6, 0.65, "heroic", phrase="a hero's journey", genre="cinematic", instruments=("French Horn",)
    ),
    "trailer": _w(0.1, 0.8, "epic", phrase="a film trailer", genre="cinematic"),
}

# --------------------------------------------------------------------------------------------------
# Modifiers
# --------------------------------------------------------------------------------------------------
# Multiply how far the next mood word sits from neutral.
INTENSIFIERS: dict[str, float] = {
    "very": 1.3,
    "really": 1.25,
    "so": 1.2,
    "extremely": 1.5,
    "incredibly": 1.5,
    "super": 1.4,
    "deeply": 1.35,
    "utterly": 1.5,
    "totally": 1.3,
    "truly": 1.2,
    "intensely": 1.4,
    "too": 1.2,
    "slightly": 0.5,
    "somewhat": 0.6,
    "mildly": 0.5,
    "little": 0.55,
    "bit": 0.55,
    "kinda": 0.6,
    "fairly": 0.75,
    "quite": 1.1,
    "rather": 0.9,
    "barely": 0.3,
}
NEGATORS = frozenset(
    {
        "not",
        "no",
        "never",
        "without",
        "hardly",
        "nothing",
        "neither",
        "nor",
        "none",
        "isn't",
        "wasn't",
        "aren't",
        "don't",
        "doesn't",
        "didn't",
        "won't",
        "cannot",
        "can't",
    }
)
NEGATION_SCOPE = 3  # words before a mood word in which a negator applies
# "not happy" is less sad than "sad" is: negation flips valence only partly and damps arousal.
NEGATED_VALENCE_FACTOR = -0.5
NEGATED_AROUSAL_FACTOR = 0.5


# --------------------------------------------------------------------------------------------------
# Tempo and texture words
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TempoWord:
    """A word that names a pace: the tempo it suggests and the arousal it implies."""

    tempo_bpm: float
    arousal: float


TEMPO_WORDS: dict[str, TempoWord] = {
    "slow": TempoWord(70, -0.5),
    "very slow": TempoWord(55, -0.7),
    "slower": TempoWord(72, -0.45),
    "fast": TempoWord(140, 0.6),
    "very fast": TempoWord(170, 0.8),
    "faster": TempoWord(135, 0.5),
    "quick": TempoWord(135, 0.5),
    "rapid": TempoWord(150, 0.65),
    "speedy": TempoWord(150, 0.65),
    "upbeat": TempoWord(122, 0.5),
    "uptempo": TempoWord(128, 0.55),
    "up tempo": TempoWord(128, 0.55),
    "mid tempo": TempoWord(100, 0.0),
    "midtempo": TempoWord(100, 0.0),
    "moderate": TempoWord(100, 0.0),
    "downtempo": TempoWord(85, -0.35),
    "laid back": TempoWord(85, -0.35),
    "laidback": TempoWord(85, -0.35),
    "leisurely": TempoWord(80, -0.4),
    "driving": TempoWord(128, 0.6),
    "pounding": TempoWord(135, 0.75),
    "largo": TempoWord(50, -0.7),
    "lento": TempoWord(55, -0.65),
    "adagio": TempoWord(70, -0.5),
    "andante": TempoWord(90, -0.2),
    "moderato": TempoWord(110, 0.1),
    "allegretto": TempoWord(118, 0.3),
    "allegro": TempoWord(135, 0.5),
    "vivace": TempoWord(160, 0.7),
    "presto": TempoWord(180, 0.85),
}

# Texture: register (-1 low .. 1 high) and density (0 sparse .. 1 busy).
REGISTER_WORDS: dict[str, float] = {
    "deep": -0.6,
    "low": -0.5,
    "rumbling": -0.7,
    "bassy": -0.6,
    "heavy": -0.4,
    "high": 0.5,
    "sparkling": 0.6,
    "twinkling": 0.7,
    "shimmering": 0.5,
    "airy": 0.5,
    "light": 0.3,
}
DENSITY_WORDS: dict[str, float] = {
    "minimal": 0.15,
    "minimalist": 0.15,
    "sparse": 0.15,
    "simple": 0.3,
    "bare": 0.2,
    "stripped": 0.2,
    "busy": 0.85,
    "dense": 0.85,
    "lush": 0.7,
    "rich": 0.65,
    "layered": 0.75,
    "complex": 0.8,
    "full": 0.7,
}

# --------------------------------------------------------------------------------------------------
# Meter, duration and parameter words
# --------------------------------------------------------------------------------------------------
# Dance and form names that imply a meter.
METER_WORDS: dict[str, str] = {
    "waltz": "3/4",
    "waltzes": "3/4",
    "minuet": "3/4",
    "mazurka": "3/4",
    "polonaise": "3/4",
    "sarabande": "3/4",
    "jig": "6/8",
    "jigs": "6/8",
    "tarantella": "6/8",
    "barcarolle": "6/8",
    "siciliano": "6/8",
    "sicilienne": "6/8",
    "march": "4/4",
    "common time": "4/4",
}
# "in 3", "in three" -> meter.
COUNT_METERS: dict[str, str] = {
    "3": "3/4",
    "three": "3/4",
    "4": "4/4",
    "four": "4/4",
    "6": "6/8",
    "six": "6/8",
}
# Written meters we can honour by a close equivalent, and the reason given.
METER_EQUIVALENTS: dict[str, str] = {"2/4": "4/4", "2/2": "4/4", "12/8": "6/8", "c": "4/4"}

NUMBER_WORDS: dict[str, float] = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty five": 45,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    "half a": 0.5,
}
# A compact "30s" is a duration unless it reads as a decade: these follow decades ("80s synthpop").
DECADE_FOLLOWERS = frozenset(
    {
        "music",
        "song",
        "songs",
        "style",
        "styled",
        "vibe",
        "vibes",
        "era",
        "sound",
        "sounds",
        "feel",
        "aesthetic",
        "hit",
        "hits",
        "tune",
        "tunes",
        "disco",
        "retro",
        "nostalgia",
        "movie",
        "movies",
        "film",
        "kid",
        "fashion",
        "tv",
        "arcade",
        "anime",
        "game",
        "games",
        "video",
        "videogame",
        "radio",
    }
)
# ... and these make it a duration ("a 30s clip", "for 30s").
DURATION_FOLLOWERS = frozenset(
    {
        "long",
        "clip",
        "loop",
        "intro",
        "outro",
        "cue",
        "jingle",
        "sting",
        "max",
        "total",
        "duration",
        "length",
        "ad",
        "teaser",
        "piece",
        "track",
    }
)
DURATION_PRECEDERS = frozenset(
    {
        "for",
        "lasting",
        "last",
        "about",
        "around",
        "exactly",
        "under",
        "approximately",
        "max",
        "length",
        "duration",
        "only",
        "just",
    }
)
# Two-digit decades that read as decades even with no context ("80s" is rarely a length).
DEFAULT_DECADES = frozenset({40, 50, 70, 80})

# --------------------------------------------------------------------------------------------------
# Instrument and genre words that need context
# --------------------------------------------------------------------------------------------------
# Instrument aliases that are common in ordinary prose ("lead the way", "a heart beat", "the car horn"):
# they count only right after a request word such as "with", "and", "no", "solo", "just".
AMBIGUOUS_INSTRUMENT_WORDS = frozenset(
    {
        "beat",
        "beats",
        "kit",
        "lead",
        "pad",
        "voice",
        "voices",
        "recorder",
        "whistle",
        "horn",
        "horns",
        "bells",
        "keys",
        "organ",
        "bass",
        "strings",
        "synth",
        "orchestra",
        "chimes",
        "vocals",
    }
)
INSTRUMENT_REQUEST_WORDS = frozenset(
    {
        "with",
        "and",
        "or",
        "nor",
        "plus",
        "featuring",
        "feat",
        "using",
        "on",
        "for",
        "solo",
        "only",
        "just",
        "no",
        "without",
        "minus",
        "sans",
        "add",
        "&",
        ",",
    }
)
# ... and only when followed by the end of a list or a music word ("a lead melody", not "a lead role").
AMBIGUOUS_INSTRUMENT_FOLLOWERS = frozenset(
    {
        "and",
        "or",
        "nor",
        "with",
        "plus",
        "&",
        ",",
        ".",
        ";",
        ":",
        "!",
        "?",
        "line",
        "lines",
        "part",
        "parts",
        "melody",
        "melodies",
        "solo",
        "only",
        "alone",
        "sound",
        "sounds",
        "riff",
        "riffs",
        "groove",
        "chords",
        "section",
        "pattern",
        "loop",
        "layer",
        "over",
        "under",
        "in",
        "on",
        "at",
        "playing",
        "free",
        "less",
    }
)
# Words that may sit between a request word and the instrument ("with a soft pad").
INSTRUMENT_ADJECTIVES = frozenset(
    {
        "a",
        "an",
        "the",
        "some",
        "soft",
        "gentle",
        "warm",
        "lush",
        "light",
        "heavy",
        "deep",
        "acoustic",
        "electric",
        "little",
        "big",
        "muted",
        "quiet",
        "sparse",
        "bright",
        "dark",
        "simple",
        "subtle",
    }
)
# Words that make a following instrument list an exclusion ("no drums", "without piano").
EXCLUDE_TRIGGERS = frozenset(
    {
        "no",
        "without",
        "minus",
        "sans",
        "except",
        "excluding",
        "zero",
        "skip",
        "avoid",
        "lose",
        "drop",
        "remove",
        "not",
    }
)
# ... the whole ensemble ("solo piano", "just piano and cello", "only guitar").
ONLY_TRIGGERS = frozenset({"solo", "only", "just", "unaccompanied", "purely", "exclusively"})
ONLY_SUFFIXES = frozenset({"only", "alone", "solo"})  # "piano only", "cello alone", "piano solo"
EXCLUDE_SUFFIXES = frozenset({"free"})  # "drum-free"
LESS_SUFFIX = "less"  # "drumless", "beatless"
LIST_ARTICLES = frozenset({"a", "an", "the", "any", "some"})
ADD_CONNECTORS = frozenset({"and", ",", "&", "plus", "with", "or"})
EXCLUDE_CONNECTORS = frozenset({"or", "nor", ",", "and"})
LIST_CLOSERS = frozenset({"or", "nor", "and", "&", "plus"})  # after one of these, a comma ends the list
# A prompt at most this long is a request: instruments it names are asked for. In a longer text (a
# story) a mention is only a suggestion unless a request word precedes it.
SHORT_PROMPT_WORDS = 20

# Genre aliases that are ordinary words: they count as a request only with a music word next to them
# ("house music", "country song"); otherwise they are ignored (NEED) or a weak hint (WEAK).
GENRE_WORDS_NEED_CONTEXT = frozenset(
    {"house", "country", "drone", "swing", "chamber", "beats", "score", "romantic", "dance", "movie"}
)
GENRE_WORDS_WEAK = frozenset(
    {"epic", "chill", "acoustic", "trailer", "meditation", "soundtrack", "orchestral"}
)
GENRE_CONTEXT_WORDS = frozenset(
    {
        "music",
        "song",
        "songs",
        "track",
        "tracks",
        "tune",
        "tunes",
        "piece",
        "style",
        "styled",
        "vibe",
        "vibes",
        "beat",
        "beats",
        "groove",
        "genre",
        "band",
        "anthem",
        "mix",
        "feel",
        "sound",
        "version",
        "cover",
        "number",
    }
)

# Function words, ignored when deciding whether a prompt says anything beyond its parameters.
STOPWORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "with",
        "by",
        "from",
        "into",
        "it",
        "is",
        "are",
        "be",
        "make",
        "me",
        "some",
        "please",
        "song",
        "track",
        "piece",
        "music",
        "tune",
        "i",
        "want",
        "give",
        "create",
        "compose",
        "write",
        "generate",
        "like",
        "that",
        "this",
        "my",
        "about",
        "key",
        "tempo",
        "bpm",
        "time",
        "minutes",
        "seconds",
        "long",
        "style",
        "instrumental",
        "only",
        "just",
        "solo",
        "no",
        "without",
        "using",
        "featuring",
        "plus",
        "beat",
        "vibe",
        "vibes",
        "feel",
        "sound",
    }
)
# Words that confirm "A minor" / "a major" is a key rather than an article and an adjective.
KEY_CONFIRMING_FOLLOWERS = frozenset(
    {
        "key",
        "tonality",
        "scale",
        "mode",
        "chord",
        "chords",
        "progression",
        "piece",
        "melody",
        "song",
        "tune",
        "sonata",
        "prelude",
        "waltz",
        "nocturne",
        "etude",
        "ballad",
        "with",
        "and",
        "at",
        "for",
        "please",
        "bpm",
        "in",
        "on",
        "using",
        "featuring",
        "feel",
    }
)
KEY_MODE_NOUNS = frozenset({"key", "tonality", "scale", "mode"})
PRONOUNS = frozenset({"i", "you", "we", "they", "he", "she", "it"})  # "Am I right?" is not A minor
# In a long text (a story) a duration counts only in a sentence that also talks about the music.
MUSIC_REQUEST_WORDS = frozenset(
    {
        "music",
        "piece",
        "track",
        "song",
        "soundtrack",
        "score",
        "loop",
        "clip",
        "tune",
        "make",
        "compose",
        "write",
        "generate",
        "create",
        "long",
        "bpm",
        "jingle",
        "theme",
    }
)

# --------------------------------------------------------------------------------------------------
# Confidences (0..1) and calibration of the readings. Explicit requests are 1.0.
# --------------------------------------------------------------------------------------------------
EXPLICIT_CONFIDENCE = 1.0
METER_WORD_CONFIDENCE = 0.9  # "waltz" -> 3/4 is near certain but is a style word, not a number
GENRE_WEAK_CONFIDENCE = 0.5  # "epic", "chill": genre words that are also ordinary words
GENRE_HINT_CONFIDENCE = 0.35  # "neon" -> electronic
INSTRUMENT_MENTION_CONFIDENCE = 0.6  # an instrument named in a story, not asked for
INSTRUMENT_HINT_CONFIDENCE = 0.4  # "rain" -> electric piano
TEMPO_WORD_CONFIDENCE = 0.6
TEXTURE_WORD_CONFIDENCE = 0.5
LEXICON_BASE_CONFIDENCE = 0.45  # mood from one word ...
LEXICON_CONFIDENCE_PER_WORD = 0.1  # ... plus this per further word ...
LEXICON_MAX_CONFIDENCE = 0.8  # ... up to this
LEXICON_STORY_FACTOR = 0.6  # in a story, single words mislead more often ("a cold drink"): trust them less
LEXICON_NEUTRAL_WEIGHT = 0.25  # weight of a neutral word in the mood mean; a word at +-1 weighs 1.25
COMBINED_MAX_CONFIDENCE = 0.85  # lexicon and sentence model agreeing
COMBINED_SECOND_OPINION = 0.15  # how much the weaker of two readings adds to the stronger's confidence
ENERGY_FROM_AROUSAL_CONFIDENCE = 0.9  # energy confidence relative to arousal's
MAX_MOOD_TAGS = 6
MAX_CAPTION_PHRASES = 3

# Sentence model (cosine similarities with the prototypes in perceive/semantic.py).
SEMANTIC_TEMPERATURE = 0.04  # softmax temperature over mood cosines
SEMANTIC_COS_FLOOR = 0.12  # a best mood cosine at or below this says nothing ...
SEMANTIC_COS_FULL = 0.45  # ... and at or above this gives full semantic confidence
SEMANTIC_MAX_CONFIDENCE = 0.7
SEMANTIC_GENRE_MIN_COS = 0.3  # propose a genre only if its best prototype is this close ...
SEMANTIC_GENRE_MARGIN = 0.06  # ... and clearly ahead of the runner-up
SEMANTIC_GENRE_CONFIDENCE = 0.4
# A setting at 0.3-0.4 is mostly chance: "heavy rock anthem" read 0.37 to "singing carols on Christmas Eve".
SEMANTIC_SETTING_MIN_COS = 0.4
SEMANTIC_SETTING_MARGIN = 0.03
SEMANTIC_TAG_MIN_COS = 0.35  # the closest mood prototype gives a tag only if it is at least this close
# A setting or mood prototype is dropped when it contradicts the prompt's own mood words: both readings
# this far from neutral on one axis, with opposite signs.
MOOD_CLASH_WORDS = 0.15
MOOD_CLASH_PROTOTYPE = 0.3
SEMANTIC_CLASH_FACTOR = 0.4  # the sentence model's confidence on an axis where it contradicts feeling words
SEMANTIC_SETTING_CONFIDENCE = 0.45
SEMANTIC_TOP_K = 3  # matches recorded in the observation

# --------------------------------------------------------------------------------------------------
# Ensemble words ("a jazz trio", "string quartet", "big band"): they set the instruments exactly.
# --------------------------------------------------------------------------------------------------
_P, _AB, _D, _STR = "Acoustic Grand Piano", "Acoustic Bass", "Drums", "String Ensemble 1"
_STRING_TRIO = ("Violin", "Viola", "Cello")
# GM has one violin program and a brief names each instrument once, so a string quartet is Violin, Viola,
# Cello in the brief; the composer splits the violins into a first and a second part (four voices).
_STRING_QUARTET = ("Violin", "Viola", "Cello")
_PIANO_TRIO = (_P, "Violin", "Cello")
_POWER_TRIO = ("Overdriven Guitar", "Electric Bass (pick)", _D)
_SAX_QUARTET = ("Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax")
_WIND_QUINTET = ("Flute", "Oboe", "Clarinet", "Bassoon", "French Horn")
FULL_ORCHESTRA = (_STR, "French Horn", "Brass Section", "Flute", "Contrabass", "Timpani")

# Nouns that name an ensemble by its size; "solo X" is read with the instrument words.
ENSEMBLE_SIZES: dict[str, int] = {"duo": 2, "duet": 2, "trio": 3, "quartet": 4, "quintet": 5, "sextet": 6}
# Nouns sized by the genre: a band is the genre's band, an orchestra the full orchestra.
ENSEMBLE_OPEN = frozenset({"band", "orchestra", "combo", "big band"})
# (qualifier, noun) -> the ensemble, and the genre it implies (None: any).
NAMED_ENSEMBLES: dict[tuple[str, str], tuple[tuple[str, ...], str | None]] = {
    ("string", "trio"): (_STRING_TRIO, "classical"),
    ("piano", "trio"): (_PIANO_TRIO, "classical"),
    ("power", "trio"): (_POWER_TRIO, "rock"),
    ("organ", "trio"): (("Drawbar Organ", "Electric Guitar (jazz)", _D), "jazz"),
    ("string", "quartet"): (_STRING_QUARTET, "classical"),
    ("piano", "quartet"): ((_P, "Violin", "Viola", "Cello"), "classical"),
    ("sax", "quartet"): (_SAX_QUARTET, "jazz"),
    ("saxophone", "quartet"): (_SAX_QUARTET, "jazz"),
    ("wind", "quintet"): (_WIND_QUINTET, "classical"),
    ("woodwind", "quintet"): (_WIND_QUINTET, "classical"),
    ("brass", "quintet"): (("Trumpet", "French Horn", "Trombone", "Tuba"), "classical"),
    ("string", "quintet"): (("Violin", "Viola", "Cello", "Contrabass"), "classical"),
    ("piano", "quintet"): ((_P, "Violin", "Viola", "Cello"), "classical"),
    ("brass", "band"): (("Trumpet", "French Horn", "Trombone", "Tuba", _D), None),
    ("marching", "band"): (("Trumpet", "Trombone", "Tuba", "Piccolo", _D), None),
    ("", "big band"): (("Alto Sax", "Tenor Sax", "Trumpet", "Trombone", _P, _AB, _D), "jazz"),
    ("string", "orchestra"): ((_STR, "Contrabass"), "classical"),
    ("chamber", "orchestra"): ((_STR, "Flute", "Oboe", "French Horn", "Contrabass"), "classical"),
    ("symphony", "orchestra"): (FULL_ORCHESTRA, None),
    ("full", "orchestra"): (FULL_ORCHESTRA, None),
    ("", "orchestra"): (FULL_ORCHESTRA, None),
}
# A bare "trio" or "quartet" takes the genre's usual line-up; genres not listed take the first instruments
# of their own ensemble.
GENRE_ENSEMBLES: dict[tuple[str, str], tuple[str, ...]] = {
    ("jazz", "duo"): (_P, _AB),
    ("jazz", "trio"): (_P, _AB, _D),
    ("jazz", "quartet"): ("Tenor Sax", _P, _AB, _D),
    ("jazz", "quintet"): ("Trumpet", "Tenor Sax", _P, _AB, _D),
    ("rock", "trio"): _POWER_TRIO,
    ("rock", "quartet"): ("Overdriven Guitar", "Electric Guitar (clean)", "Electric Bass (pick)", _D),
    ("classical", "duo"): (_P, "Violin"),
    ("classical", "trio"): _PIANO_TRIO,
    ("classical", "quartet"): _STRING_QUARTET,
    ("cinematic", "trio"): _PIANO_TRIO,
    ("cinematic", "quartet"): _STRING_QUARTET,
    ("folk", "duo"): ("Acoustic Guitar (steel)", "Fiddle"),
    ("folk", "trio"): ("Acoustic Guitar (steel)", "Fiddle", _AB),
    ("pop", "trio"): (_P, "Electric Bass (finger)", _D),
    ("lofi", "trio"): ("Electric Piano 1", "Electric Bass (finger)", _D),
    ("electronic", "duo"): ("Lead 2 (sawtooth)", "Synth Bass 1"),
    ("electronic", "trio"): ("Lead 2 (sawtooth)", "Synth Bass 1", _D),
}
ENSEMBLE_GENRE_CONFIDENCE = 0.5  # "piano trio" suggests classical, as a weak genre word does


# --------------------------------------------------------------------------------------------------
# Named forms ("a lullaby", "a march", "a Christmas carol"): meter, pace and line-up they imply.
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NamedForm:
    """What a named kind of piece brings, unless the prompt says otherwise."""

    name: str
    meter: str | None = None
    tempo_range: tuple[float, float] | None = None  # the pace the form is played at, BPM
    ensemble: tuple[str, ...] = ()  # used when no genre or instrument is named
    drums: bool | None = None  # False: no kit, whatever the genre
    genre: str | None = None  # a hint, weaker than a named genre


_LULLABY = NamedForm(
    "lullaby", "6/8", (56.0, 72.0), ("Music Box", "Orchestral Harp", _STR), False, "classical"
)
NAMED_FORMS: dict[str, NamedForm] = {
    "lullaby": _LULLABY,
    "lullabies": _LULLABY,
    "cradle song": _LULLABY,
    "bedtime song": _LULLABY,
    "berceuse": _LULLABY,
    "nursery rhyme": _LULLABY,
    "funeral march": NamedForm(
        "funeral march", "4/4", (54.0, 70.0), ("Brass Section", "Tuba", "Timpani", _STR), False, "cinematic"
    ),
    "march": NamedForm(
        "march", "4/4", (104.0, 124.0), ("Trumpet", "Trombone", "Tuba", "Piccolo", _D), None, "cinematic"
    ),
    "carol": NamedForm(
        "carol", None, None, ("Glockenspiel", "Choir Aahs", _STR, "Contrabass"), False, "classical"
    ),
    "christmas carol": NamedForm(
        "carol", None, None, ("Glockenspiel", "Choir Aahs", _STR, "Contrabass"), False, "classical"
    ),
    "hymn": NamedForm("hymn", "4/4", (60.0, 80.0), ("Church Organ", "Choir Aahs"), False, "classical"),
    "nocturne": NamedForm("nocturne", None, (56.0, 76.0), (_P,), False, "classical"),
    "national anthem": NamedForm(
        "anthem", "4/4", (72.0, 96.0), ("Brass Section", "French Horn", _STR, "Timpani"), False, "cinematic"
    ),
    "fanfare": NamedForm(
        "fanfare", "4/4", None, ("Trumpet", "French Horn", "Trombone", "Timpani"), False, "cinematic"
    ),
    "waltz": NamedForm("waltz", "3/4"),
    "minuet": NamedForm("minuet", "3/4", genre="classical"),
    "jig": NamedForm("jig", "6/8", genre="folk"),
    "reel": NamedForm("reel", "4/4", genre="folk"),
    "hornpipe": NamedForm("hornpipe", "4/4", genre="folk"),
    "polka": NamedForm("polka", "4/4", genre="folk"),
}
FORM_CONFIDENCE = 0.9  # as sure as a meter word: "lullaby" is a style word, not a number
# A form's pace is proposed at the bridge's threshold for a stated tempo: "a lullaby" means a slow one.
FORM_TEMPO_CONFIDENCE = 0.99

# --------------------------------------------------------------------------------------------------
# Timeline words ("then strings join", "builds to a climax", "ends quietly"): section changes.
# --------------------------------------------------------------------------------------------------
# Verbs after the players they move: "the drums come in", "strings join", "the fiddle drops out".
ENTER_VERBS = (
    "join",
    "joins",
    "joined",
    "joining",
    "come in",
    "comes in",
    "coming in",
    "enter",
    "enters",
    "kick in",
    "kicks in",
    "kicking in",
    "drop in",
    "drops in",
    "chime in",
    "chimes in",
    "are added",
    "is added",
    "fade in",
    "fades in",
    "arrive",
    "arrives",
    "take over",
    "takes over",
)
EXIT_VERBS = (
    "drop out",
    "drops out",
    "dropping out",
    "fall away",
    "falls away",
    "cut out",
    "cuts out",
    "fall silent",
    "falls silent",
    "stop",
    "stops",
    "leave",
    "leaves",
    "fade out",
    "fades out",
    "disappear",
    "disappears",
)
# Verbs before the players: "add a cello", "bring in the drums".
BRING_VERBS = ("add", "adds", "adding", "bring in", "brings in", "bringing in")
START_VERBS = ("start", "starts", "starting", "begin", "begins", "beginning", "open", "opens", "opening")
END_VERBS = ("end", "ends", "ending", "finish", "finishes", "close", "closes")
QUIET_WORDS = frozenset(
    {
        "quiet",
        "quietly",
        "soft",
        "softly",
        "gentle",
        "gently",
        "calm",
        "calmly",
        "slow",
        "slowly",
        "peaceful",
        "peacefully",
        "sparse",
        "sparsely",
        "hushed",
        "whisper",
        "silence",
        "ambient",
        "delicate",
        "delicately",
        "tender",
        "tenderly",
        "low",
    }
)
SECTION_NOUNS = frozenset(
    {"intro", "introduction", "opening", "beginning", "outro", "ending", "coda", "bridge"}
)
CLIMAX_WORDS = frozenset({"climax", "crescendo", "peak", "finale", "high point", "culmination"})
BUILD_WORDS = ("builds", "build", "building", "builds up", "gets louder", "grows", "swells", "rises")
FADE_END_WORDS = ("fades out", "fade out", "fades away", "fade away", "dies away", "dies down", "fading out")
# Words that separate the clauses of a timeline.
CLAUSE_BREAKS = frozenset(
    {
        "then",
        "later",
        "before",
        "after",
        "until",
        "while",
        "when",
        "as",
        "but",
        "finally",
        "eventually",
        "and",
        "so",
        "where",
        "which",
        "that",
    }
)
# Section energies the timeline sets (0..1).
TIMELINE_QUIET_START = 0.3
TIMELINE_QUIET_END = 0.25
TIMELINE_CLIMAX = 0.95
TIMELINE_BUILD_FROM = 0.35
TIMELINE_AFTER_CLIMAX_DROP = 0.2  # sections after the climax sit at least this far under it
