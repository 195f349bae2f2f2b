"""Dual-track retrieval over the library, as VMB retrieves its music bridge.

- **Targeted**: what the user names. Filters are exact (``genre``, ``instrument``, ``artist``, ``title``,
  tempo and key ranges: a row that fails one is never returned); named tracks come first (``--like PATH``
  by that file's own analysis, ``--reference-track ID``, a quoted title in the prompt such as "in the style
  of my track 'Harbour'"); genres and instruments the prompt names are boosts.
- **Broad**: the overall mood and theme, the query text or a brief's caption, mood and genre, matched to
  each track's caption-and-tags embedding (cosine, exact below the index size, IVF-PQ above).

Every hit says which track found it and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from weavewave.errors import BadInputError
from weavewave.library.store import Library, sql_literal
from weavewave.library.track import embed_texts, named_genres, named_instruments

BROAD_POOL = 4  # the broad track draws this many times ``limit`` candidates before boosts re-rank them
GENRE_BOOST = 0.15  # added to a broad hit's similarity when its genre is one the prompt names
INSTRUMENT_BOOST = 0.05  # ... per instrument the prompt names that its tags list
LIKE_TEXT_WEIGHT = 0.3  # "like PATH": the features decide, the caption helps break ties
NAMED_SCORE = 2.0  # a track the user named outranks anything found by similarity
# "my track 'Harbour'", "the song "Blue"", "tune ‘Kerry’": a quoted title after a word for a piece.
NAMED_TITLE = re.compile(r"(?:track|song|tune|piece|recording)\s+['\"“‘]([^'\"”’]{1,120})['\"”’]", re.I)


@dataclass
class Query:
    """What to look for. Any field left None is not asked for."""

    text: str | None = None
    like: str | None = None
    track: list[str] = field(default_factory=list)  # track ids (or content hashes, or paths)
    genre: str | None = None
    instrument: str | None = None
    artist: str | None = None
    title: str | None = None
    tempo: tuple[float, float] | None = None
    key: str | None = None
    limit: int = 10
    clap_model: str | None = None  # rank the words by CLAP text-to-audio similarity (the library's CLAP)
    adapter: str | None = None  # an image adapter into the library's CLAP space: ``images`` are the query
    images: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise BadInputError(f"--limit {self.limit}: ask for at least 1 result")


@dataclass
class Hit:
    """One result: the stored row (without vectors), its score, the track that found it, and why."""

    row: dict[str, Any]
    score: float
    track: str  # "targeted" or "broad"
    why: list[str]

    def line(self, rank: int) -> str:
        r = self.row
        return (
            f"{rank:2d}. [{self.track}] {r['id']}  {r['title']}"
            + (f" - {r['artist']}" if r.get("artist") else "")
            + f"  ({r['genre']}, {r['key']}, {r['tempo_bpm']:g} BPM, {r['duration_s']:.0f} s)  score {self.score:.3f}"
            + "\n      why: "
            + "; ".join(self.why)
            + f"\n      {r['path']}"
        )


def parse_tempo_range(text: str) -> tuple[float, float]:
    """ "100-120" or "96" (+-3 %) as a (low, high) BPM range. Raises BadInputError."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?\s*", text)
    if not m:
        raise BadInputError(f"--tempo {text!r}: give a BPM range such as 100-120, or one BPM such as 96")
    lo = float(m[1])
    hi = float(m[2]) if m[2] else lo
    if m[2] is None:
        lo, hi = lo * 0.97, hi * 1.03
    if hi < lo:
        raise BadInputError(f"--tempo {text!r}: the range ends below where it starts; write LOW-HIGH")
    return lo, hi


def filters(query: Query) -> tuple[str | None, list[str]]:
    """The exact filters as one SQL ``where`` (None when there are none), and their words for ``why``."""
    from weavewave.music.instruments import resolve_instrument
    from weavewave.music.styles import resolve_genre
    from weavewave.music.theory import parse_key

    parts: list[str] = []
    words: list[str] = []
    if query.genre:
        genre = resolve_genre(query.genre)
        parts.append(f"genre = {sql_literal(genre)}")
        words.append(f"genre {genre}")
    if query.instrument:
        name = resolve_instrument(query.instrument)
        parts.append(f"array_has(instruments, {sql_literal(name)})")
        words.append(f"plays {name}")
    if query.artist:
        parts.append(f"lower(artist) LIKE {sql_literal('%' + query.artist.lower() + '%')}")
        words.append(f"artist ~ {query.artist!r}")
    if query.title:
        parts.append(f"lower(title) LIKE {sql_literal('%' + query.title.lower() + '%')}")
        words.append(f"title ~ {query.title!r}")
    if query.tempo:
        lo, hi = query.tempo
        parts.append(f"tempo_bpm >= {lo:.3f} AND tempo_bpm <= {hi:.3f}")
        words.append(f"tempo {lo:g}-{hi:g} BPM")
    if query.key:
        if query.key.strip().lower() in ("major", "minor"):
            parts.append(f"key_mode = {sql_literal(query.key.strip().lower())}")
            words.append(f"{query.key.strip().lower()} key")
        else:
            spec = parse_key(query.key)
            parts.append(f"key = {sql_literal(str(spec))}")
            words.append(f"key {spec}")
    return (" AND ".join(f"({p})" for p in parts) or None), words


def named_titles(text: str | None) -> list[str]:
    """Titles the prompt names: "in the style of my track 'Harbour'" -> ["Harbour"]."""
    return [m.strip() for m in NAMED_TITLE.findall(text or "") if m.strip()]


def search(library: Library, query: Query) -> list[Hit]:
    """Ranked hits: the targeted track's first (named tracks, ``like``), then the broad track's."""
    where, filter_words = filters(query)
    hits: dict[str, Hit] = {}
    for hit in _targeted(library, query, where, filter_words):
        hits.setdefault(hit.row["content_hash"], hit)
    if query.text or query.adapter:
        broad = _broad_image(library, query, where, filter_words) if query.adapter else []
        if query.text:
            broad += _broad(library, query, where, filter_words)
        for hit in broad:
            if hit.row["content_hash"] in hits:
                hits[hit.row["content_hash"]].why.append(hit.why[0])
            else:
                hits[hit.row["content_hash"]] = hit
    elif not hits and where:
        for row in library.rows(where=where, limit=query.limit):
            hits[row["content_hash"]] = Hit(
                _plain(row), 1.0, "targeted", ["matches " + ", ".join(filter_words)]
            )
    ranked = sorted(hits.values(), key=lambda h: -h.score)
    return ranked[: query.limit]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.endswith("_vector") and k != "_distance"}


def _targeted(library: Library, query: Query, where: str | None, filter_words: list[str]) -> list[Hit]:
    out: list[Hit] = []
    passes = f" (and {', '.join(filter_words)})" if filter_words else ""
    for ref in query.track:
        row = library.get(ref)
        if row is None:
            raise BadInputError(
                f"--reference-track {ref}: no such track in {library.folder}; see `weavewave library list`"
            )
        out.append(Hit(_plain(row), NAMED_SCORE + 1.0, "targeted", [f"named by id {ref}"]))
    for title in named_titles(query.text):
        clause = f"lower(title) = {sql_literal(title.lower())}"
        rows = library.rows(where=f"{clause} AND ({where})" if where else clause, limit=query.limit)
        for row in rows:
            out.append(
                Hit(_plain(row), NAMED_SCORE, "targeted", [f"the prompt names your track '{title}'{passes}"])
            )
    if query.like:
        out += _like(library, query, where, passes)
    return out


def _like(library: Library, query: Query, where: str | None, passes: str) -> list[Hit]:
    """Tracks like a file: nearest by its musical features, its caption a little; the file itself left out."""
    from weavewave.io.audiofiles import content_hash, read_tags
    from weavewave.library.track import analyse_track, embed_rows

    path = Path(query.like or "")
    if not path.is_file():
        raise BadInputError(f"--like {path}: file not found; give an audio file")
    digest = content_hash(path)
    row = library.get(digest)
    if row is None:
        row = analyse_track(path, digest, read_tags(path))
        embed_rows([row], _library_embedder(library))
    exclude = f"content_hash != {sql_literal(digest)}"
    pool = library.nearest(np.asarray(row["feature_vector"], dtype=np.float32), column="feature_vector",
                           where=f"{exclude} AND ({where})" if where else exclude,
                           limit=query.limit * BROAD_POOL)  # fmt: skip
    text = np.asarray(row["text_vector"], dtype=np.float32)
    out = []
    for cand in pool:
        feat = 1.0 - float(cand["_distance"])
        cap = float(np.dot(text, np.asarray(cand["text_vector"], dtype=np.float32)))
        score = (1 - LIKE_TEXT_WEIGHT) * feat + LIKE_TEXT_WEIGHT * cap
        why = (f"like {path.name}: tempo {cand['tempo_bpm']:g} vs {row['tempo_bpm']:g} BPM, {cand['key']} vs "
               f"{row['key']}, energy {cand['energy']:.2f} vs {row['energy']:.2f} (features {feat:.2f}, "
               f"caption {cap:.2f}){passes}")  # fmt: skip
        out.append(Hit(_plain(cand), NAMED_SCORE - 1.0 + score, "targeted", [why]))
    return sorted(out, key=lambda h: -h.score)[: query.limit]


def _library_embedder(library: Library) -> str:
    from weavewave.library.track import text_embedder

    return library.embedder() or text_embedder()


def _broad(library: Library, query: Query, where: str | None, filter_words: list[str]) -> list[Hit]:
    """Nearest captions to the query text (or, with ``clap_model``, nearest CLAP audio embeddings to its
    CLAP text embedding), with the prompt's genres and instruments as boosts."""
    text = query.text or ""
    if query.clap_model:
        from weavewave.library.clap import CLAP_COLUMN, check_query_space, embed_text, open_clap

        clap, space = open_clap(query.clap_model)
        check_query_space(library.clap_space(), space, library.folder)
        vector, column = embed_text(clap, text), CLAP_COLUMN

        def say(sim: float, cand: dict[str, Any]) -> str:
            return f"sounds like the query to CLAP {clap.name} (text-to-audio similarity {sim:.2f})"
    else:
        vector, column = embed_texts([text], _library_embedder(library))[0], "text_vector"

        def say(sim: float, cand: dict[str, Any]) -> str:
            return f'caption close to the query (similarity {sim:.2f}): "{_head(cand["caption"])}"'

    return _rank(library, query, vector, column, where, filter_words, say, text)


def _broad_image(library: Library, query: Query, where: str | None, filter_words: list[str]) -> list[Hit]:
    """Nearest CLAP audio embeddings to the photos' CLIP embedding mapped by the adapter into that space."""
    from weavewave.library.clap import CLAP_COLUMN, adapted_images

    assert query.adapter is not None
    if not query.images:
        raise BadInputError(
            "--adapter maps photos into the library's CLAP space: give one with --image PHOTO"
        )
    vector, _ = adapted_images(query.adapter, query.images, library.clap_space(), library.folder)
    names = ", ".join(Path(p).name for p in query.images)

    def say(sim: float, cand: dict[str, Any]) -> str:
        return f"sounds like {names} through adapter {query.adapter} (CLAP audio similarity {sim:.2f})"

    return _rank(library, query, vector, CLAP_COLUMN, where, filter_words, say, query.text or "")


def _rank(library: Library, query: Query, vector: np.ndarray, column: str, where: str | None,
          filter_words: list[str], say: Any, text: str) -> list[Hit]:  # fmt: skip
    """The broad track's ranking: nearest in ``column``, boosted by the genres and instruments ``text``
    names; ``say(similarity, row)`` words the first reason."""
    genres = named_genres(text)
    instruments = named_instruments(text)
    passes = f" (and {', '.join(filter_words)})" if filter_words else ""
    out = []
    if column != "text_vector":  # tracks added before the library had CLAP have no vector yet
        where = f"{column} IS NOT NULL" + (f" AND ({where})" if where else "")
    pool = library.nearest(vector, column=column, where=where, limit=query.limit * BROAD_POOL, vectors=False)
    for cand in pool:
        sim = 1.0 - float(cand["_distance"])
        score = sim
        why = [say(sim, cand) + passes]
        if cand["genre"] in genres:
            score += GENRE_BOOST
            why.append(f"genre {cand['genre']} named in the prompt")
        played = [i for i in instruments if i in (cand["instruments"] or [])]
        if played:
            score += INSTRUMENT_BOOST * len(played)
            why.append(f"plays {', '.join(played)} named in the prompt")
        out.append(Hit(_plain(cand), score, "broad", why))
    return sorted(out, key=lambda h: -h.score)[: query.limit]


def _head(caption: str, words: int = 12) -> str:
    parts = caption.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")


def brief_query_text(brief: Any) -> str:
    """The broad query a brief makes: its caption, mood words and genre (the overall mood and theme)."""
    mood = ", ".join(brief.mood.tags)
    return f"{brief.caption} {mood}. {brief.genre}".strip()
