"""The bridge package: one order (fuse, reference, picture, loop, refine, enforce controls), "fixed by the
user" read from provenance, the perceiver registry and the typed video timeline."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from types import SimpleNamespace

import pytest

from weavewave import bridge, perceive
from weavewave.bridge import Controls, build, fuse, vary
from weavewave.bridge.loop import as_loop
from weavewave.bridge.picture import score_brief
from weavewave.brief import Observation, Provenance
from weavewave.music.theory import bar_seconds
from weavewave.perceive import Perception, Proposal, VideoPerception, VideoTimeline

SRC = Path(bridge.__file__).resolve().parents[1]


def text_perception(**proposals) -> Perception:
    obs = Observation(source="text", input="a test", summary="test", measurements={"words": 2})
    return Perception(obs, {k: Proposal(v, 0.6, f"{k} from text") for k, v in proposals.items()})


def video_perception(cuts=(2.0, 4.0, 6.0), duration=8.0) -> VideoPerception:
    edges = [0.0, *cuts, duration]
    scenes = tuple(
        {"start_s": a, "end_s": b, "energy": 0.3 + 0.1 * i, "theme": "AB"[i % 2], "caption": f"shot {i}"}
        for i, (a, b) in enumerate(zip(edges, edges[1:], strict=False))
    )
    timeline = VideoTimeline(
        duration_s=duration, cuts_s=tuple(cuts), scenes=scenes, tempo_range=(90.0, 130.0)
    )
    obs = Observation(source="video", input="clip.mp4", summary="test", measurements={"cuts_s": list(cuts)})
    proposals = {"duration_s": Proposal(duration, 1.0, f"duration {duration:g} s: as long as the video")}
    return VideoPerception(obs, proposals, timeline=timeline)


# --- the order --------------------------------------------------------------------------------------------
def test_build_keeps_an_explicit_tempo_through_picture_loop_and_instruction():
    perceptions = [text_perception(arousal=0.5), video_perception()]
    brief = build(perceptions, Controls(tempo=100, seed=3), loop=True, instruction="much faster and jazz")
    assert brief.tempo_bpm == 100 and brief.provenance["tempo_bpm"].source == "user"
    assert brief.genre == "jazz" and brief.provenance["genre"].source == "instruction"
    assert brief.loop and brief.cues, "scored to the picture, then made a loop"
    assert brief.provenance["cues"].source == "video"


def test_build_without_a_tempo_lets_the_picture_choose_it():
    brief = build([text_perception(arousal=0.5), video_perception()], Controls(seed=3))
    assert brief.provenance["tempo_bpm"].source == "video"
    assert 90 <= brief.tempo_bpm <= 130  # within the pace's range


def test_build_reads_the_controls_of_a_request():
    request = SimpleNamespace(tempo=84.0, key="D minor", genre=None, duration=10.0, meter=None,
                              instruments=None, seed=1, text="ignored by the bridge")  # fmt: skip
    brief = build([text_perception(valence=0.4)], request)
    assert (brief.tempo_bpm, str(brief.key), brief.duration_s) == (84.0, "D minor", 10.0)


def test_vary_keeps_a_hand_edited_tempo_when_making_a_loop():
    """Fixed by the user is read from provenance: a tempo edited by hand in brief.json is not nudged to
    fit whole bars (the length is), although no --tempo was given."""
    data = fuse([text_perception(arousal=0.2)], Controls(duration=10.3, seed=2)).to_dict()
    data["tempo_bpm"] = 97.0  # the reason still says the old tempo: a hand edit
    looped = vary(data, Controls(), loop=True)
    assert looped.tempo_bpm == 97.0 and looped.provenance["tempo_bpm"].source == "user"
    # duration was set with --duration too: neither moves, the loop wraps inside a bar
    assert looped.duration_s == 10.3
    free = vary(fuse([text_perception(arousal=0.2)], Controls(seed=2)).to_dict(), None, loop=True)
    assert free.tempo_bpm != fuse([text_perception(arousal=0.2)], Controls(seed=2)).tempo_bpm
    bars = free.duration_s / bar_seconds(free.tempo_bpm, free.meter)
    assert bars == pytest.approx(round(bars), abs=1e-3)


def test_vary_with_an_instruction_never_undoes_a_control():
    data = fuse([text_perception()], Controls(genre="rock", seed=4)).to_dict()
    varied = vary(data, Controls(tempo=70), instruction="make it jazz, much faster")
    assert varied.genre == "rock" and varied.tempo_bpm == 70


def test_loop_and_picture_take_no_fixed_flags():
    """The user's tempo and length are read from the brief's provenance, not passed beside it."""
    assert list(inspect.signature(as_loop).parameters) == ["brief"]
    assert list(inspect.signature(score_brief).parameters) == ["brief", "video"]


def test_loop_reads_a_user_tempo_from_provenance():
    brief = fuse([text_perception()], Controls(duration=10.3, seed=5))
    prov = dict(brief.provenance)
    prov["tempo_bpm"] = Provenance(source="user", reason=f"tempo {brief.tempo_bpm:g}: set on the page")
    prov["duration_s"] = Provenance(source="default", reason="duration 10.3 s: the default length")
    looped = as_loop(brief.model_copy(update={"provenance": prov}))
    assert looped.tempo_bpm == brief.tempo_bpm and looped.duration_s != 10.3


def test_score_brief_keeps_a_tempo_the_user_fixed():
    fused = fuse([text_perception(), video_perception()], Controls(tempo=120, seed=1))
    scored = score_brief(fused, video_perception().timeline)
    assert scored.tempo_bpm == 120 and not scored.warp, "a fixed tempo gets no tempo map"
    assert [c.time_s for c in scored.cues] and scored.provenance["tempo_bpm"].source == "user"


# --- perceivers only observe ---------------------------------------------------------------------------
def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


@pytest.mark.parametrize(
    "module", sorted(str(p.relative_to(SRC / "perceive")) for p in (SRC / "perceive").rglob("*.py"))
)
def test_no_perceiver_imports_the_bridge_or_the_api(module):
    """Every module of every perceiver, packages included (perceive/text/, video/, audio/)."""
    up = {
        m for m in _imports(SRC / "perceive" / module) if m.startswith(("weavewave.bridge", "weavewave.api"))
    }
    assert not up, f"perceive/{module} climbs back into {up}"


def test_attach_reference_lives_in_the_bridge():
    """The audio perceiver measures; the bridge decides what of the tune the brief keeps."""
    from weavewave.bridge.reference import attach_reference
    from weavewave.perceive import audio

    assert not hasattr(audio, "attach_reference") and callable(attach_reference)
    source = inspect.getsource(audio)
    assert "brief.model_copy" not in source and "MusicBrief.from_dict" not in source


# --- the registry ---------------------------------------------------------------------------------------
def echo(request, context) -> list[Perception]:
    """A perceiver of a made-up kind, registered by its path below."""
    if request.text is None:
        return []
    context.report(0.5, "echoing")
    return [text_perception(genre="folk")]


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(perceive, "_PERCEIVERS", dict(perceive._PERCEIVERS))


def test_perceivers_run_in_registration_order(registry):
    assert perceive.perceiver_kinds() == ["text", "image", "video", "mllm", "audio"]
    perceive.register_perceiver("echo", f"{__name__}:echo")
    assert perceive.perceiver_kinds()[-1] == "echo"
    said = []
    req = SimpleNamespace(
        text="a jig", semantic=False, image=[], video=None, audio=None, describer="analytic"
    )
    got = perceive.perceive_request(req, report=lambda f, m: said.append(m))
    assert [p.observation.input for p in got] == ["a jig", "a test"]
    assert said == ["reading the text", "echoing"]
    assert fuse(got, Controls(seed=1)).observations[-1].input == "a test"


def test_a_registered_perceiver_reaches_describe(registry):
    from weavewave import api

    perceive.register_perceiver("echo", echo)
    brief = api.describe(text="a calm evening", text_model="lexicon", seed=1)
    assert brief.genre == "folk" and [o.input for o in brief.observations][-1] == "a test"


def test_registering_a_kind_again_replaces_it_in_place(registry):
    perceive.register_perceiver("image", echo)
    assert perceive.perceiver_kinds() == ["text", "image", "video", "mllm", "audio"]


def test_a_timeline_in_a_piece_too_short_to_split_plays_throughout():
    """An entry or exit in a one-section piece (too short to split) has nowhere to happen: said, not a crash."""
    from weavewave import api

    brief = api.describe(text="a lonely piano at first, then drums join", duration=3, text_model="lexicon")
    assert len(brief.sections) == 1
    assert "too short for a change" in brief.provenance["timeline"].reason
