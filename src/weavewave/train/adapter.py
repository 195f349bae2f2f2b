"""LoRA adapters as weavewave writes them: what the folder records, and checking it against a base model.

An adapter folder is a PEFT adapter (``adapter_config.json``, ``adapter_model.safetensors``) plus
``weavewave_adapter.json``, which names the base model it was trained on and a fingerprint of that
model's architecture. Loading it onto another base (other sizes, codebooks or a melody model where a
text-only one was trained) is refused with one line before any weights move.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from weavewave.errors import BadInputError

META_FILE = "weavewave_adapter.json"
PEFT_CONFIG = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
KIND = "musicgen-lora"
# Config keys that say nothing about the architecture: where it was loaded from, the number format it
# was loaded in, library versions.
VOLATILE_KEYS = frozenset({"_name_or_path", "transformers_version", "torch_dtype", "dtype", "_commit_hash",
                           "architectures", "_attn_implementation_autoset"})  # fmt: skip
# How deep `weavewave models` looks for adapters under each folder it searches.
SEARCH_DEPTH = 2
ADAPTER_PATH_ENV = "WEAVEWAVE_ADAPTERS"  # extra folders to search, separated by os.pathsep


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in sorted(value.items()) if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def config_fingerprint(config: Any) -> str:
    """A short hash of a model config's architecture (``config.to_dict()`` without volatile keys)."""
    data = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    text = json.dumps(_strip(data), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_meta(folder: str | Path) -> dict[str, Any]:
    """The adapter's record; BadInputError naming what is missing when the folder is not an adapter."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise BadInputError(
            f"--adapter {folder}: no such folder; give the --out of `weavewave train musicgen`"
        )
    for name in (PEFT_CONFIG, WEIGHTS_FILE, META_FILE):
        if not (root / name).is_file():
            raise BadInputError(f"--adapter {folder} is not a weavewave adapter (no {name}); give the --out "
                                "folder of `weavewave train musicgen`")  # fmt: skip
    try:
        meta = json.loads((root / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"--adapter {folder}: cannot read {META_FILE} ({exc})") from None
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise BadInputError(f"--adapter {folder}: {META_FILE} is not a {KIND} record")
    return meta


def check_base(folder: str | Path, base_ref: str, base_config: Any) -> dict[str, Any]:
    """The adapter's record, after checking it was trained on a model with ``base_config``'s architecture."""
    meta = read_meta(folder)
    have = config_fingerprint(base_config)
    if meta.get("base_fingerprint") != have:
        raise BadInputError(
            f"--adapter {folder} was trained on {meta.get('base_model', 'another model')}, whose architecture "
            f"differs from {base_ref} (fingerprint {meta.get('base_fingerprint')} vs {have}): pass "
            f"--model {meta.get('base_model', 'THE_BASE_MODEL')}"
        )
    return meta


def weights_digest(folder: str | Path) -> Any:
    """The adapter's weights by name and content hash, as a brief records input files."""
    from weavewave.generators.contract import file_digest

    return file_digest(Path(folder) / WEIGHTS_FILE)


def find_adapters(roots: list[str | Path] | None = None) -> list[dict[str, Any]]:
    """Adapters under ``roots`` (default: the current folder and ``$WEAVEWAVE_ADAPTERS``), ``SEARCH_DEPTH``
    folders deep, each with its path, base model, size and training summary."""
    if roots is None:
        roots = [Path.cwd(), *[p for p in os.environ.get(ADAPTER_PATH_ENV, "").split(os.pathsep) if p]]
    seen: set[Path] = set()
    found = []
    for root in map(Path, roots):
        for meta_file in _metas(root):
            folder = meta_file.parent.resolve()
            if folder in seen:
                continue
            seen.add(folder)
            try:
                meta = read_meta(folder)
            except BadInputError:
                continue
            found.append(
                {
                    "path": str(folder),
                    "base_model": meta.get("base_model"),
                    "trigger": meta.get("trigger"),
                    "steps": meta.get("steps"),
                    "rows": meta.get("train_rows"),
                    "val_loss_before": meta.get("val_loss_before"),
                    "val_loss_after": meta.get("val_loss_after"),
                    "size_mb": round((folder / WEIGHTS_FILE).stat().st_size / 2**20, 2),
                }
            )
    return sorted(found, key=lambda r: r["path"])


def _metas(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    out: list[Path] = []
    for depth in range(SEARCH_DEPTH + 1):
        out.extend(p for p in root.glob("/".join(["*"] * depth + [META_FILE])) if p.is_file())
    return out
