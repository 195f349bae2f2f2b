"""``weavewave annotate --images DIR``: pair the user's photos with segments through one embedding space.

MusFlow's quadruples join an image to a piece of music. Offline there is no vision-language or CLIP model,
so each photo is read the way ``weavewave describe --image`` reads it (colour, light and texture ->
valence, arousal, mood tags and a caption hint, :func:`weavewave.perceive.image.perceive_image`) and said
in words, with the mood words the annotation describer uses for music (the same quadrant table). That text
and each segment's caption go through the same text embedder as the music library (issue 10: the shipped
all-MiniLM-L6-v2 sentence model, or hashed words where it is not installed), and each segment gets the
photo whose text lies nearest to its caption, with the cosine similarity as its score.

With weights (``--clip-model`` and ``--clap-model``), :class:`ModelPairer` pairs through the caption as a
pivot, as weavewave's evaluation measures image-music alignment (``image_music_via_text[clip+clap]``): the
photo whose CLIP image embedding lies nearest the caption's CLIP text embedding, scored by the mean of that
cosine and the CLAP cosine between the segment's audio and the caption. A CLIP image vector and a CLAP
audio vector share no space (an adapter from ``weavewave train adapter`` would be needed to compare them
directly), so the caption joins them. Neither model's weights can be fetched where this was built: the
model path is tested on tiny random models (mechanics only), the offline path is the one measured.
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


class TextPairer:
    """The offline pairing: photos in words and captions in one text-embedding space (the module docstring)."""

    name = "text"

    def __init__(self, folder: str | Path, embedder: str) -> None:
        self.embedder = embedder
        self.images, self.skipped = load_images(folder, embedder)

    def pair(self, rows: list[dict[str, Any]], root: Path) -> None:
        """Fill ``image``, ``image_source`` and ``image_score`` of each row in place."""
        pair_rows(rows, self.images, self.embedder, root)


CLIP_BATCH = 16  # photos per CLIP forward pass


class ModelPairer:
    """Pairing with weights: CLIP (photo vs caption) and CLAP (segment audio vs caption), the caption as pivot."""

    name = "clip+clap"

    def __init__(self, folder: str | Path, clip_model: str, clap_model: str) -> None:
        from PIL import Image

        from weavewave.evaluate.neural import clip_images, load_clap, load_clip
        from weavewave.io.audiofiles import content_hash
        from weavewave.perceive.image import load_image

        self.clip, self.clap = load_clip(clip_model), load_clap(clap_model)  # both before any photo is read
        readable: list[tuple[Path, str, Any]] = []
        self.skipped: list[dict[str, str]] = []
        for path in find_images(folder):
            try:
                rgb = load_image(path)  # the image perceiver's reader: EXIF orientation, size limits
                readable.append(
                    (path, content_hash(path), Image.fromarray((rgb * 255).round().astype(np.uint8)))
                )
            except BadInputError as exc:
                self.skipped.append({"path": str(path), "reason": f"image: {exc}"})
            except OSError as exc:
                self.skipped.append(
                    {"path": str(path), "reason": f"image: cannot read it ({exc.strerror or exc})"}
                )
        vectors = [clip_images(self.clip, [im for _, _, im in readable[i : i + CLIP_BATCH]])
                   for i in range(0, len(readable), CLIP_BATCH)]  # fmt: skip
        table = np.concatenate(vectors) if vectors else np.zeros((0, 1), dtype=np.float32)
        self.images = [ImageCandidate(p, h, "", v) for (p, h, _), v in zip(readable, table, strict=True)]

    def pair(self, rows: list[dict[str, Any]], root: Path) -> None:
        """Fill ``image``, ``image_source`` and ``image_score`` of each row in place; the score is the mean
        of the CLIP image-caption and CLAP audio-caption cosines."""
        import json

        import soundfile as sf

        from weavewave.evaluate.neural import clap_score, clip_text

        if not rows or not self.images:
            return
        sims = (
            clip_text(self.clip, [r["caption"] for r in rows]) @ np.stack([c.vector for c in self.images]).T
        )
        for row, row_sims in zip(rows, sims, strict=True):
            i = int(np.argmax(row_sims))
            audio, sr = sf.read(str(root / row["audio"]), dtype="float32", always_2d=True)
            image_text = float(row_sims[i])
            audio_text = clap_score(self.clap, audio.mean(axis=1), sr, row["caption"])
            score = round((image_text + audio_text) / 2, SCORE_DECIMALS)
            chosen = self.images[i]
            row["image"] = copy_image(chosen, root)
            row["image_source"] = chosen.path.name
            row["image_score"] = score
            provenance = json.loads(row["provenance"])
            provenance["image"] = (
                f"paired: of {len(self.images)} photos, the nearest to the caption by CLIP ({self.clip.name}: "
                f"cosine {image_text:.3f}); the caption against the segment's audio by CLAP ({self.clap.name}: "
                f"cosine {audio_text:.3f}); score: their mean (image_music_via_text[clip+clap])"
            )
            row["provenance"] = json.dumps(provenance)
