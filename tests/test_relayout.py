"""tools/relayout.py: old import paths are rewritten to the new layout, names that left a split module
follow it, and a second run changes nothing (the lead re-runs it on other branches after merging)."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("relayout", ROOT / "tools" / "relayout.py")
relayout = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(relayout)

# relayout: off (old names on purpose)
CASES = [
    (
        "from weavewave.render import master, render  # noqa: E402\n",
        "from weavewave.dsp.master import master  # noqa: E402\n"
        "from weavewave.generators.symbolic.render import render\n",
    ),
    (
        "from weavewave.audio_io import (\n    integrated_lufs,\n    write_audio,\n)\n",
        "from weavewave.dsp.loudness import integrated_lufs\nfrom weavewave.io.audio import write_audio\n",
    ),
    (
        "from weavewave import analyze, api\n",
        "from weavewave.music import analysis as analyze\nfrom weavewave import api\n",
    ),
    ("import weavewave.models as m\n", "import weavewave.neural.models as m\n"),
    (
        'monkeypatch.setattr("weavewave.render._synth_pcm", f)\n',
        'monkeypatch.setattr("weavewave.generators.symbolic.render._synth_pcm", f)\n',
    ),
    (
        '("weavewave.generators.musicgen", "MusicgenGenerator")\n',
        '("weavewave.generators.musicgen.generator", "MusicgenGenerator")\n',
    ),
    ("from weavewave.export import save_track\n", "from weavewave.export.track import save_track\n"),
    ("from weavewave import export\n", "from weavewave.export import track as export\n"),
    (
        "    from weavewave.perceive.mllm import json_objects\n",
        "    from weavewave.neural.chat_json import json_objects\n",
    ),
    (
        "from weavewave.perceive.audio import load_audio, perceive_audio\n",
        "from weavewave.io.audio import load_audio\nfrom weavewave.perceive.audio import perceive_audio\n",
    ),
    (
        "from weavewave.generators.symbolic.render import find_soundfont, render\n",
        "from weavewave.generators.symbolic.soundfont import find_soundfont\n"
        "from weavewave.generators.symbolic.render import render\n",
    ),
    (
        '"weavewave.render.SYSTEM_SOUNDFONTS"\n',
        '"weavewave.generators.symbolic.soundfont.SYSTEM_SOUNDFONTS"\n',
    ),
    ("see src/weavewave/render.py\n", "see src/weavewave/generators/symbolic/render.py\n"),
    ('    "from weavewave import audio_io\\n"\n', '    "from weavewave.io import audio as audio_io\\n"\n'),
    (
        '"import os; from weavewave import render; render.render(a)"\n',
        '"import os; from weavewave.generators.symbolic import render; render.render(a)"\n',
    ),
    (
        "<!-- relayout: off -->`weavewave.render`<!-- relayout: on -->\n",
        "<!-- relayout: off -->`weavewave.render`<!-- relayout: on -->\n",
    ),
]
# relayout: on


@pytest.mark.parametrize(("old", "new"), CASES, ids=range(len(CASES)))
def test_rewrites_old_paths_and_is_idempotent(old, new):
    assert relayout.rewrite_text(old) == new
    assert relayout.rewrite_text(new) == new


def test_new_paths_are_left_alone():
    text = (
        "from weavewave.generators.musicgen import generator\nfrom weavewave.export.track import save_track\n"
        "import weavewave.generators.musicgen.fast\nfrom weavewave.perceive.video import analyse_video\n"
    )
    assert relayout.rewrite_text(text) == text


def test_every_new_module_exists_and_no_old_one_is_left():
    for old, new in relayout.MODULES.items():
        assert importlib.util.find_spec(new) is not None, new
        assert not (ROOT / relayout._path(old)).exists(), old
    for names in relayout.SYMBOLS.values():
        for name, new in names.items():
            assert hasattr(importlib.import_module(new), name), f"{new}.{name}"


def test_the_tree_is_already_rewritten():
    files = relayout._files(list(relayout.DEFAULT_TARGETS), ROOT)
    assert relayout.rewrite_files(files, check=True) == []
