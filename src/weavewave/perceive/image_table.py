"""DATA: how measured image features become proposals for the brief.

Every number the image perceiver uses lives here, each row with the finding it leans on. The weights
are weavewave's own calibration, *informed by* the cited findings; none of the papers publishes these
exact numbers. ``docs/PERCEPTION.md`` prints this table with full references.

How a row is read
-----------------
1. A raw feature ``x`` (see ``weavewave.perceive.image.measure``) is centred and scaled with
   :data:`FEATURE_SCALES`: ``z = clip((x - centre) / half_range, -1, 1)``. ``z = 0`` is "typical".
2. A signed attribute (valence, arousal, register; range -1..1) is ``clip(sum(weight * z), -1, 1)``.
   A unit attribute (energy, density; range 0..1) is ``clip(0.5 + 0.5 * sum(weight * z), 0, 1)``.
   Terms may use attributes computed earlier (``arousal`` feeds ``energy``).
3. Confidence is ``base + span * strength`` where strength is ``|value|`` (signed) or ``|2 value - 1|``
   (unit); image confidences stay below what an explicit text request gets.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- References (short keys; full citations in docs/PERCEPTION.md) --------------------------------
REFERENCES: dict[str, str] = {
    "VM1994": "Valdez & Mehrabian (1994), J. Exp. Psychol.: General 123(4), 394-409",
    "WO2018": "Wilms & Oberfeld (2018), Psychological Research 82(5), 896-914",
    "PSXP2013": "Palmer, Schloss, Xu & Prado-Leon (2013), PNAS 110(22), 8836-8841",
    "OLWW2004": "Ou, Luo, Woodcock & Wright (2004), Color Res. Appl. 29(3), 232-240",
    "HS2003": "Hasler & Suesstrunk (2003), Proc. SPIE 5007, 87-95",
    "B1971": "Berlyne (1971), Aesthetics and Psychobiology",
    "RLN2007": "Rosenholtz, Li & Nakano (2007), J. Vision 7(2):17",
    "RBW2017": "Redies, Brachmann & Wagemans (2017), Vision Research 133, 130-144",
    "S2011": "Spence (2011), Attention, Perception, & Psychophysics 73(4), 971-995",
}

# --- Loading -----------------------------------------------------------------------------------
MAX_SIDE = 512  # analysed size: longest side in pixels after downscaling
DRAFT_FACTOR = 1  # JPEG draft decodes at >= DRAFT_FACTOR * MAX_SIDE (DCT scaling), thumbnail() finishes
ALPHA_BACKGROUND = (255, 255, 255)  # transparent pixels are seen as on a white page
SIXTEEN_BIT_MAX = 65535.0  # integer greyscale modes ("I;16", "I") are scaled by this

# --- Measurement -------------------------------------------------------------------------------
DARK_VALUE = 0.06  # HSV value below which hue and saturation are undefined (sensor noise): S := 0
EDGE_THRESHOLD = 0.08  # Sobel step, in L*/100 units, that counts as a strong edge (8 L* units)
ORIENTATION_BINS = 18  # 10-degree bins over 0..180 degrees
MIN_EDGE_FRACTION = 0.001  # fewer strong-edge pixels than this: orientation entropy is 0
GRADIENT_REF = 0.15  # mean Sobel magnitude treated as "fully textured" in the complexity index
FINE_DETAIL_CUTOFF = 0.1  # cycles/pixel; spectral power above this counts as fine detail
FINE_DETAIL_REF = 0.5  # fine-detail share treated as "fully detailed" in the complexity index

# Hue sectors, HSV degrees [start, end), whole degrees only (hue mass is binned per degree).
# Red wraps through 0.
HUE_SECTORS: tuple[tuple[str, float, float], ...] = (
    ("red", 345.0, 15.0),
    ("orange", 15.0, 40.0),
    ("yellow", 40.0, 70.0),
    ("green", 70.0, 160.0),
    ("teal", 160.0, 195.0),
    ("blue", 195.0, 255.0),
    ("purple", 255.0, 290.0),
    ("magenta", 290.0, 345.0),
)
# Warm = reds, oranges, yellows; cool = cyans, blues, violets (OLWW2004 colour heat peaks near
# orange-red and is lowest for blue). Greens and magentas count as neither.
WARM_HUES = (330.0, 75.0)
COOL_HUES = (165.0, 285.0)
NO_HUE = -1.0  # dominant_hue_deg when the image has no chromatic pixels

# Hasler & Suesstrunk (2003) colourfulness categories (their M metric on 0-255 sRGB values).
COLOURFULNESS_LEVELS: tuple[tuple[float, str], ...] = (
    (0.0, "not colourful"),
    (15.0, "slightly colourful"),
    (33.0, "moderately colourful"),
    (45.0, "averagely colourful"),
    (59.0, "quite colourful"),
    (82.0, "highly colourful"),
    (109.0, "extremely colourful"),
)

# --- Normalisation: feature -> (centre, half_range) ---------------------------------------------
FEATURE_SCALES: dict[str, tuple[float, float]] = {
    "brightness": (0.5, 0.3),  # mean L*/100; 0.5 is mid-grey lightness
    "saturation": (0.35, 0.3),  # mean HSV S; typical photographs sit at 0.25-0.5
    "colourfulness": (33.0, 40.0),  # HS2003 "moderately colourful" is the centre
    "warmth": (0.0, 1.0),  # already -1..1 (after the chroma gate below)
    "contrast": (0.18, 0.12),  # RMS of L*/100
    "edge_density": (0.2, 0.2),
    "complexity": (0.3, 0.3),
    "arousal": (0.0, 1.0),
}
# Hue only matters when there is colour to see: warmth is scaled by min(1, saturation / this).
WARMTH_SATURATION_GATE = 0.25


@dataclass(frozen=True)
class Term:
    """One row of the mapping table: ``weight * z(feature)`` contributes to an attribute."""

    feature: str
    weight: float
    refs: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Mapping:
    """How one brief attribute is computed and how sure we are of it."""

    attribute: str
    kind: str  # "signed" (-1..1) or "unit" (0..1)
    terms: tuple[Term, ...]
    confidence_base: float
    confidence_span: float


MAPPINGS: tuple[Mapping, ...] = (
    Mapping(
        "valence",
        "signed",
        (
            Term(
                "brightness",
                0.55,
                ("VM1994", "WO2018", "PSXP2013"),
                "pleasure rises with brightness (VM1994: Pleasure = .69 B + .22 S); lighter colours go "
                "with happier music (PSXP2013)",
            ),
            Term(
                "saturation",
                0.25,
                ("VM1994", "WO2018"),
                "saturated colours are rated more pleasant (smaller effect than brightness)",
            ),
            Term(
                "warmth",
                0.20,
                ("PSXP2013",),
                "yellower colours go with happier, major-key music; bluer with sadder, minor",
            ),
        ),
        0.45,
        0.2,
    ),
    Mapping(
        "arousal",
        "signed",
        (
            Term(
                "saturation",
                0.35,
                ("VM1994", "WO2018"),
                "saturation is the strongest colour driver of arousal (VM1994: Arousal = -.31 B + .60 S)",
            ),
            Term(
                "colourfulness",
                0.15,
                ("HS2003", "WO2018"),
                "a colourful scene has many saturated, contrasting hues",
            ),
            Term(
                "contrast", 0.15, ("B1971",), "strong light-dark contrast is a collative, arousing property"
            ),
            Term("complexity", 0.20, ("B1971", "RLN2007"), "visual complexity raises arousal potential"),
            Term(
                "warmth",
                0.15,
                ("WO2018", "OLWW2004"),
                "arousal increases from blue and green to red; warm colours are 'active'",
            ),
        ),
        0.45,
        0.2,
    ),
    Mapping(
        "energy",
        "unit",
        (
            Term("arousal", 0.7, ("PSXP2013",), "faster music goes with more saturated, lighter colours"),
            Term("brightness", 0.3, ("PSXP2013", "WO2018"), "lighter images ask for livelier music"),
        ),
        0.45,
        0.15,
    ),
    Mapping(
        "register",
        "signed",
        (
            Term(
                "brightness",
                0.9,
                ("S2011", "OLWW2004"),
                "lightness corresponds to pitch height; dark colours feel 'heavy'",
            ),
        ),
        0.45,
        0.2,
    ),
    Mapping(
        "density",
        "unit",
        (
            Term("edge_density", 0.5, ("RLN2007",), "edge density is a standard index of visual clutter"),
            Term("complexity", 0.5, ("B1971", "RBW2017"), "more varied structure asks for busier parts"),
        ),
        0.45,
        0.15,
    ),
)

TYPICAL_Z = 0.25  # |z| below this is described as "typical" in reasons
# Vocabulary for reasons: feature -> (word when z < 0, word when z > 0).
FEATURE_WORDS: dict[str, tuple[str, str]] = {
    "brightness": ("dark", "light"),
    "saturation": ("desaturated", "saturated"),
    "colourfulness": ("drab", "colourful"),
    "warmth": ("cool-hued", "warm-hued"),
    "contrast": ("low-contrast", "high-contrast"),
    "edge_density": ("smooth", "edgy"),
    "complexity": ("simple", "intricate"),
    "arousal": ("calm", "aroused"),
}

# --- Mode ----------------------------------------------------------------------------------------
# score = MODE_VALENCE_WEIGHT * valence + MODE_WARMTH_WEIGHT * gated warmth (PSXP2013: major <->
# lighter, more saturated, yellower; minor <-> darker, greyer, bluer). Inside +-MODE_THRESHOLD the
# image does not propose a mode at all.
MODE_VALENCE_WEIGHT = 0.7
MODE_WARMTH_WEIGHT = 0.3
MODE_THRESHOLD = 0.15
MODE_CONFIDENCE = (0.4, 0.25)  # base, span over |score| in 0..1

# --- Mood tags: (tag, all of (quantity, op, threshold)) --------------------------------------------
# Quantities: raw measurements, "warmth_gated", and the computed attributes.
Condition = tuple[str, str, float]
MOOD_TAG_RULES: tuple[tuple[str, tuple[Condition, ...]], ...] = (
    ("dark", (("brightness", "<", 0.3),)),
    ("bright", (("brightness", ">", 0.65),)),
    ("warm", (("warmth_gated", ">", 0.25),)),
    ("cool", (("warmth_gated", "<", -0.25),)),
    ("vivid", (("colourfulness", ">", 59.0),)),  # HS2003 "quite colourful" and above
    ("monochrome", (("saturation", "<", 0.03),)),
    ("muted", (("colourfulness", "<", 20.0), ("saturation", ">=", 0.03))),
    ("joyful", (("valence", ">", 0.3), ("arousal", ">", 0.15))),
    ("serene", (("valence", ">", -0.1), ("arousal", "<", -0.2))),
    ("melancholic", (("valence", "<", -0.3), ("arousal", "<", 0.1))),
    ("tense", (("valence", "<", -0.2), ("arousal", ">", 0.2))),
    ("dramatic", (("contrast", ">", 0.28),)),
    ("soft", (("contrast", "<", 0.1),)),
    ("busy", (("density", ">", 0.7),)),
    ("sparse", (("density", "<", 0.3),)),
)
MOOD_TAG_CONFIDENCE = 0.5

# --- Timbre suggestions: (name, conditions, canonical instruments) ---------------------------------
# Conditions use the z-scores ("z_<feature>") and "warmth_gated". Rules are tried in order and
# their instruments concatenated (deduplicated) up to MAX_SUGGESTED; NEUTRAL_TIMBRES when none fires.
TIMBRE_RULES: tuple[tuple[str, tuple[Condition, ...], tuple[str, ...]], ...] = (
    ("vivid", (("z_saturation", ">", 0.3), ("z_contrast", ">", 0.2)), ("Brass Section", "Lead 2 (sawtooth)")),
    (
        "soft",
        (("z_saturation", "<", -0.3), ("z_contrast", "<", 0.0)),
        ("Pad 2 (warm)", "Acoustic Grand Piano"),
    ),
    (
        "warm",
        (("warmth_gated", ">", 0.2),),
        ("String Ensemble 1", "Electric Piano 1", "Acoustic Guitar (nylon)"),
    ),
    ("cool", (("warmth_gated", "<", -0.2),), ("Pad 7 (halo)", "Vibraphone", "Acoustic Grand Piano")),
    ("dark", (("z_brightness", "<", -0.6),), ("Cello",)),
    ("light", (("z_brightness", ">", 0.6),), ("Celesta",)),
)
NEUTRAL_TIMBRES: tuple[str, ...] = ("Acoustic Grand Piano", "String Ensemble 1")
MAX_SUGGESTED = 4
TIMBRE_CONFIDENCE = 0.4

# --- Caption hint ----------------------------------------------------------------------------------
# "inspired by a dark, blue-toned image with soft light"
LIGHT_WORDS: tuple[tuple[float, str], ...] = ((0.3, "dark"), (0.42, "dim"), (0.65, ""), (1.01, "bright"))
CONTRAST_WORDS: tuple[tuple[float, str], ...] = (
    (0.12, "soft light"),
    (0.26, "even light"),
    (10.0, "strong contrast"),
)
GREYSCALE_SATURATION = 0.03  # below: "black-and-white"
VIVID_COLOURFULNESS = 59.0  # above: "vivid <hue>"
MUTED_COLOURFULNESS = 20.0  # below: "muted <hue>"
MIN_HUE_SHARE = 0.35  # the dominant hue sector must hold this share of the colour to be named
CAPTION_CONFIDENCE = 0.6
