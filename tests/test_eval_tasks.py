"""`weavewave eval` per task, as MusFlow reports its scores: image-, story-, caption- and multimodal-to-music,
read from the inputs each piece's brief observed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from weavewave.brief import MusicBrief, Observation
from weavewave.evaluate.collect import STORY_MIN_WORDS, task_of
from weavewave.evaluate.report import evaluate

SR = 22050
STORY = " ".join(["the old lighthouse keeper climbed the stairs at dusk and watched the storm roll in"] * 3)


def _brief(*observed: tuple[str, str, str]) -> MusicBrief:
    base = MusicBrief.from_dict(
        {
            "caption": "a calm piece",
            "duration_s": 4.0,
            "tempo_bpm": 100,
            "key": {"tonic": "C"},
            "genre": "folk",
            "instruments": ["Acoustic Grand Piano"],
        }  # fmt: skip
    )
    return base.model_copy(
        update={"observations": [Observation(source=s, input=i, summary=m) for s, i, m in observed]}
    )


def _text(text: str) -> tuple[str, str, str]:
    n = len(text.split())
    return ("text", text[:120], f"{n} words (lexicon); mood valence +0.10 arousal -0.20")


@pytest.mark.parametrize(
    ("observed", "task"),
    [
        ([("image", "coffee.png", "warm light")], "image-to-music"),
        ([_text(STORY)], "story-to-music"),
        ([_text("a calm piano piece at dusk")], "caption-to-music"),
        ([("image", "coffee.png", "warm light"), _text("a calm piano piece")], "multimodal-to-music"),
        ([("image", "coffee.png", "x"), ("mllm", "coffee.png", "a description")], "image-to-music"),
        ([("video", "clip.mp4", "3 cuts")], "video-to-music"),
        ([("audio", "tune.wav", "a tune")], "music-to-music"),
        ([], "brief-to-music"),
    ],
    ids=["image", "story", "caption", "multimodal", "mllm-adds-no-input", "video", "tune", "none"],
)
def test_the_task_is_read_from_the_briefs_inputs(observed, task):
    assert task_of(_brief(*observed)) == task


def test_a_story_is_counted_in_words_even_when_the_preview_is_cut():
    """The observation keeps a shortened preview of a long text; its summary keeps the word count."""
    assert len(STORY.split()) >= STORY_MIN_WORDS > len(STORY[:120].split())
    assert task_of(_brief(_text(STORY))) == "story-to-music"
    # A manifest's own image and text stand in for a brief without observations.
    assert task_of(None, image=Path("p.png"), text="a calm piece") == "multimodal-to-music"
    assert task_of(None, text=STORY) == "story-to-music"


def test_eval_groups_its_scores_per_task(tmp_path):
    """Four pieces from three tasks: per-task summaries, per-task FAD against the reference set, and a
    "By task" table in the report; the tasks' track counts add up to the set."""
    rng = np.random.default_rng(0)
    t = np.arange(int(4.0 * SR)) / SR
    rows = []
    tasks = {"img": [("image", "coffee.png", "warm")], "story": [_text(STORY)],
             "cap1": [_text("a calm piece")], "cap2": [_text("a bright dance")]}  # fmt: skip
    for k, (name, observed) in enumerate(tasks.items()):
        audio = 0.3 * np.sin(2 * np.pi * (220 + 110 * k) * t) + 0.01 * rng.standard_normal(t.size)
        sf.write(tmp_path / f"{name}.wav", audio.astype(np.float32), SR)
        rows.append({"name": name, "audio": f"{name}.wav", "brief": _brief(*observed).to_dict()})
    manifest = tmp_path / "set.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ref = tmp_path / "ref"
    ref.mkdir()
    for k in range(3):
        sf.write(ref / f"r{k}.wav", (0.3 * np.sin(2 * np.pi * (300 + 50 * k) * t)).astype(np.float32), SR)

    results = evaluate([manifest], reference=ref, out=tmp_path / "report", plots=False)
    by_task = results["by_task"]
    assert set(by_task) == {"image-to-music", "story-to-music", "caption-to-music"}
    assert by_task["caption-to-music"]["tracks"] == 2 and by_task["image-to-music"]["tracks"] == 1
    assert sum(s["tracks"] for s in by_task.values()) == results["summary"]["tracks"] == 4
    assert {t["name"]: t["task"] for t in results["tracks"]}["story"] == "story-to-music"
    fads = results["distribution"]["by_task"]
    assert set(fads) == set(by_task) and all(np.isfinite(v["fad[features]"]) for v in fads.values())
    # per task, not the set's figure copied: the tasks' pieces differ, so their distances do
    assert len({v["fad[features]"] for v in fads.values()}) == 3
    report = (tmp_path / "report" / "report.md").read_text()
    assert "## By task" in report and "| caption-to-music | 2 |" in report
