"""The user's own music library: an embedded LanceDB table of analysed tracks, searched on two tracks.

``weavewave library add PATH...`` analyses the user's music with the audio perceiver (tempo, key, meter,
loudness, energy, brightness, sections, chords), captions each track the way ``describe --audio`` does,
and stores it with two offline embeddings (the shipped sentence model's embedding of caption and tags, and
a normalised vector of the musical features). :func:`weavewave.library.search.search` retrieves from it on
a broad track (nearest by embedding to a query or a brief) and a targeted track (what the user names:
filters, boosts, ``--like``, a quoted track title); :mod:`weavewave.library.references` turns the best
hits into the brief's references, which lend the piece tempo, feel, harmony and instrumentation.

lancedb and pyarrow are imported only inside this package's functions, never by ``import weavewave``.
"""

from __future__ import annotations

from weavewave.library.store import Library, default_library_dir, open_library

__all__ = ["Library", "default_library_dir", "open_library"]
