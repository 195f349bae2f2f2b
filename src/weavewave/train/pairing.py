"""``weavewave annotate --images DIR``: pair the user's photos with segments through one embedding space.

MusFlow's quadruples join an image to a piece of music. Offline there is no vision-language or CLIP model,
so each photo is read the way ``weavewave describe --image`` reads it (colour, light and texture ->
valence, arousal, mood tags and a caption hint, :func:`weavewave.perceive.image.perceive_image`) and said
in words, with the mood words the annotation describer uses for music (the same quadrant table). That text
and each segment's caption go through the same text embedder as the music library (issue 10: the shipped
all-MiniLM-L6-v2 sentence model, or hashed words where it is not installed), and each segment gets the
photo whose text lies nearest to its caption, with the cosine similarity as its score.

Why the offline space and not CLIP against CLAP: a CLIP image vector and a CLAP audio vector live in two
spaces that no shipped model relates (an adapter from ``weavewave train adapter`` would be needed first),
and neither model's weights can be fetched here, so such a pairing could not be run or tested on this
machine. The sentence space is the one space both sides reach offline.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from weavewave.errors import BadInputError

# Files taken as photos (the image perceiver reads these; anything else in the folder is left alone).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
IMAGES_DIR = "images"  # where the dataset keeps its copies of the paired photos
SCORE_DECIMALS = 3


@dataclass
class ImageCandidate:
    """One readable photo: where it came from, its content hash, what it says in words, and its embedding."""

    path: Path
    sha256: str
    text: str
    vector: np.ndarray


def find_images(folder: str | Path) -> list[Path]:
    """The photos in ``folder`` (searched recursively, hidden files left out), sorted.

    Raises BadInputError when ``folder`` is not a folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise BadInputError(f"--images {folder}: no such folder; give a folder of JPEG or PNG photos")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                found.append(Path(dirpath) / name)
    return sorted(found)


def image_text(path: str | Path) -> str:
    """A photo in words, as the music captions are written: mood words, mood tags and the caption hint.

    Raises BadInputError (one line naming the file) for an unreadable image.
    """
    from weavewave.perceive.image import perceive_image
    from weavewave.train.annotate import MOOD_WORDS

    proposals = perceive_image(path).proposals
    valence, arousal = float(proposals["valence"].value), float(proposals["arousal"].value)
    words = MOOD_WORDS[(valence > 0, arousal > 0)]
    tags = proposals["mood_tags"].value if "mood_tags" in proposals else []
    hint = str(proposals["caption_hint"].value)
    extra = f"; {', '.join(tags)}" if tags else ""
    return f"a {words[0]}, {words[1]} piece{extra}; {hint}"


def load_images(folder: str | Path, embedder: str) -> tuple[list[ImageCandidate], list[dict[str, str]]]:
    """Read and embed every photo in ``folder``; returns the candidates and the skipped ones (path, reason).

    An unreadable photo is skipped with its reason, never fatal. ``embedder`` is a
    :func:`weavewave.library.track.text_embedder` name.
    """
    from weavewave.io.audiofiles import content_hash
    from weavewave.library.track import embed_texts

    readable: list[tuple[Path, str, str]] = []
    skipped: list[dict[str, str]] = []
    for path in find_images(folder):
        try:
            readable.append((path, content_hash(path), image_text(path)))
        except BadInputError as exc:
            skipped.append({"path": str(path), "reason": f"image: {exc}"})
        except OSError as exc:
            skipped.append({"path": str(path), "reason": f"image: cannot read it ({exc.strerror or exc})"})
    vectors = embed_texts([t for _, _, t in readable], embedder)
    candidates = [ImageCandidate(p, h, t, v) for (p, h, t), v in zip(readable, vectors, strict=True)]
    return candidates, skipped


def best_images(captions: list[str], images: list[ImageCandidate], embedder: str) -> list[tuple[int, float]]:
    """For each caption, the index of the nearest photo and the cosine similarity (ties: the first photo).

    Both sides are unit vectors of the same embedder, so the dot product is the cosine.
    """
    from weavewave.library.track import embed_texts

    if not captions or not images:
        return []
    music = embed_texts(captions, embedder)
    table = np.stack([c.vector for c in images])
    sims = music @ table.T
    best = np.argmax(sims, axis=1)  # argmax takes the first of equal maxima: stable across runs
    return [(int(i), round(float(sims[n, i]), SCORE_DECIMALS)) for n, i in enumerate(best)]


def copy_image(candidate: ImageCandidate, root: Path) -> str:
    """Copy a paired photo into the dataset (once per content) and return its path relative to ``root``."""
    suffix = candidate.path.suffix.lower()
    rel = f"{IMAGES_DIR}/{candidate.sha256[:12]}{suffix}"
    target = root / rel
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        shutil.copyfile(candidate.path, tmp)
        os.replace(tmp, target)  # whole or absent, whatever interrupts the run
    return rel


def pair_rows(rows: list[dict[str, Any]], images: list[ImageCandidate], embedder: str, root: Path) -> None:
    """Fill each kept row's ``image``, ``image_source`` and ``image_score`` in place (see the module docstring)."""
    import json

    for row, (i, score) in zip(
        rows, best_images([r["caption"] for r in rows], images, embedder), strict=True
    ):
        chosen = images[i]
        row["image"] = copy_image(chosen, root)
        row["image_source"] = chosen.path.name
        row["image_score"] = score
        provenance = json.loads(row["provenance"])
        provenance["image"] = (f"paired: the nearest of {len(images)} photos by {embedder} embedding of the "
                               f"caption and of the photo in words ({chosen.text!r}), cosine {score:.3f}")  # fmt: skip
        row["provenance"] = json.dumps(provenance)
