"""The page's own logic without a browser: Advanced fields that mean "auto" when empty, errors that name
the page's field, and the caption that follows the fields until the user writes their own."""

from __future__ import annotations

import pytest

gr = pytest.importorskip("gradio")

from weavewave.serve import service  # noqa: E402
from weavewave.serve.settings import Settings  # noqa: E402
from weavewave.serve.ui import (  # noqa: E402
    _request,
    auto_number,
    brief_fields,
    edited_brief,
    flow_fields,
    follow_caption,
    library_fields,
    library_rows,
    library_search,
    page_message,
    reference_track_fields,
    user_caption,
)


@pytest.fixture(scope="module")
def brief(tmp_path_factory) -> dict:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("serve-ui"), workers=1, text_model="lexicon", ui=False
    )
    return service.describe(
        service.Submission(text="a rainy night in Tokyo, neon on wet streets", controls={"duration": 12}),
        settings,
    )


def _edit(brief: dict, typed: str | None = None, shown: str | None = None, **fields) -> dict:
    """edited_brief with the page's fields as Describe filled them, changed by ``fields``. ``shown``: the
    caption the page last wrote into the box (default: the brief's); ``typed``: what the box holds now
    (default: ``shown``, nothing typed)."""
    names = ("caption", "tempo", "key", "genre", "duration", "instruments", "energy", "sections")
    page = dict(zip(names, brief_fields(brief)[:8], strict=True)) | fields
    shown = brief["caption"] if shown is None else shown
    page["caption"] = shown if typed is None else typed
    return edited_brief(brief, **page, shown_caption=shown)


# --- Advanced settings: empty means auto ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "value", [None, "", "  ", "auto", "AUTO"], ids=["none", "empty", "blank", "auto", "AUTO"]
)
def test_empty_advanced_numbers_mean_auto(value):
    assert auto_number("tempo", value) is None and auto_number("seed", value, whole=True) is None


def test_advanced_numbers_are_parsed_or_named():
    assert auto_number("tempo", " 96 ") == 96.0 and auto_number("seed", "7", whole=True) == 7
    for args, said in [
        (("tempo", "fast"), "Tempo: 'fast' is not a number"),
        (("tempo", "nan"), "Tempo: nan is not a finite number"),
    ]:
        with pytest.raises(gr.Error) as caught:
            auto_number(*args)
        assert caught.value.message.startswith(said), caught.value.message
    with pytest.raises(gr.Error) as caught:
        auto_number("seed", "1.5", whole=True)
    assert caught.value.message.startswith("Seed: 1.5 is not a whole number")


def test_untouched_advanced_fields_leave_every_control_to_the_inputs():
    """Describe with Tempo and Seed as the page sends them untouched ("" from a text field) asks for nothing."""
    req = _request("a calm lake", None, None, None, 20, "", "", "auto", "", "", "symbolic")
    assert req.controls == {
        "duration": 20.0,
        "tempo": None,
        "key": None,
        "genre": None,
        "instruments": None,
        "seed": None,
    }
    assert service.check_request(req) == {"duration": 20.0}


def test_flow_steps_and_solver_go_only_with_the_flow_backend():
    """The page sends its Steps and Solver only with the flow backend (the request refuses them for another),
    empty Steps is the default, and the request checks their range with the page's names."""
    assert flow_fields("symbolic", 8, "midpoint") == {} and flow_fields("musicgen", 8, "midpoint") == {}
    assert flow_fields("flow", "", None) == {"steps": 32, "solver": "euler"}
    assert flow_fields("flow", 8.0, "midpoint") == {"steps": 8, "solver": "midpoint"}
    with pytest.raises(gr.Error) as caught:
        flow_fields("flow", "many", "euler")
    assert caught.value.message.startswith("Steps: 'many' is not a number")
    sub = service.Submission(text="a calm lake", backend="symbolic", fields={"steps": 8})
    with pytest.raises(service.FieldError) as refused:
        service.check_request(sub)
    assert page_message(refused.value).startswith("Steps: is an option of the flow backend")


@pytest.mark.parametrize(
    ("controls", "message"),
    [
        ({"tempo": 20}, "Tempo: 20 BPM is out of range: use 30 to 300 BPM"),
        ({"seed": -1}, "Seed: -1 is out of range"),
        ({"key": "H major"}, "Key: "),
    ],
    ids=["tempo", "seed", "key"],
)
def test_errors_name_the_page_field(controls, message):
    with pytest.raises(service.FieldError) as caught:
        service.check_request(service.Submission(text="a calm lake", controls=controls))
    said = page_message(caught.value)
    assert said.startswith(message), said
    assert "Value" not in said and "minimum value" not in said


def test_a_brief_edit_out_of_range_names_the_field(brief):
    with pytest.raises(gr.Error) as caught:
        _edit(brief, tempo=20)
    assert caught.value.message.startswith("Tempo: 20 BPM is out of range"), caught.value.message


# --- the caption follows the fields until the user writes one ---------------------------------------------
def test_caption_follows_every_field(brief):
    edited = _edit(brief, genre="jazz")
    assert "jazz" in edited["caption"] and edited["caption"] != brief["caption"]
    edited = _edit(brief, genre="jazz", tempo=100, key="D major", instruments="piano, drums")
    assert "jazz" in edited["caption"] and "100 BPM" in edited["caption"] and "D major" in edited["caption"]
    assert "piano" in edited["caption"]
    assert edited["provenance"]["caption"]["source"] == "default"
    # The sentence about the inputs stays.
    assert "Tokyo" in edited["caption"]


def test_a_stale_caption_on_the_page_is_not_taken_for_the_users(brief):
    """The page may still show the caption of an earlier edit when the next one is sent (the old bug: the
    caption then counted as typed and stopped following). Only text that differs from what the page last
    wrote into the box is the user's."""
    stale = _edit(brief, genre="jazz")["caption"]
    edited = _edit(brief, shown=stale, genre="jazz", tempo=88)
    assert "88 BPM" in edited["caption"] and not user_caption(edited)


def test_the_users_caption_is_kept_until_emptied(brief):
    mine = "Slow rain on a tin roof, one guitar"
    edited = _edit(brief, typed=mine, genre="jazz")
    assert edited["caption"] == mine and edited["genre"] == "jazz"
    assert edited["provenance"]["caption"] == {"source": "user", "reason": "edited in the web page"}
    # A later field edit keeps it, also once it is in the brief the server returned (after Generate).
    assert _edit(edited, tempo=70)["caption"] == mine
    # Emptied: the fields write it again.
    again = _edit(edited, typed="", tempo=70)
    assert "70 BPM" in again["caption"] and "jazz" in again["caption"] and not user_caption(again)


def test_follow_caption_is_the_one_rule(brief):
    data = dict(brief, provenance=dict(brief["provenance"]))
    assert follow_caption(data, None)["caption"] == brief["caption"]
    assert follow_caption(data, "  my words ")["caption"] == "my words" and user_caption(data)
    assert follow_caption(data, "")["caption"] != "my words" and not user_caption(data)


def test_section_captions_follow_a_genre_edit_unless_typed(brief):
    """A genre edit re-derives the sections' captions; a row caption the user typed is kept."""
    edited = _edit(brief, genre="rock")
    before = [s["caption"] for s in brief["sections"]]
    after = [s["caption"] for s in edited["sections"]]
    assert after != before and any("rock" in c for c in after), after
    rows = [list(r) for r in brief_fields(brief)[7]]  # the sections table as the page shows it
    rows[0][4] = "my own opening"
    kept = _edit(brief, genre="rock", sections=rows)
    assert kept["sections"][0]["caption"] == "my own opening"
    assert kept["sections"][-1]["caption"] == edited["sections"][-1]["caption"]


def test_the_library_controls_mean_none_when_zero_and_list_nothing_without_a_library(tmp_path):
    assert library_fields(0) == {} and library_fields(None) == {} and library_fields("") == {}
    assert library_fields(2) == {"references": 2} and library_fields(1.0) == {"references": 1}
    with pytest.raises(gr.Error, match="References from your library"):
        library_fields(1.5)
    assert library_rows(Settings(data_dir=tmp_path, workers=1, ui=False)) == []


def test_the_picked_reference_track_is_a_request_field_and_search_finds_nothing_without_a_library(tmp_path):
    assert reference_track_fields("") == {} and reference_track_fields(None) == {}
    assert reference_track_fields(" abc123 ") == {"reference_track": ["abc123"]}
    rows, pick = library_search(Settings(data_dir=tmp_path, workers=1, ui=False), "calm", "jazz", "90-120")
    assert rows == [] and pick["choices"] == []


def test_the_pages_lora_adapter_reaches_the_request_with_its_name(tmp_path, tiny_musicgen):
    # The Advanced settings' adapter field goes into the request as musicgen's `adapter` option: a folder
    # that is no adapter is refused in one line under the page's name for the field, before any work.
    from weavewave.serve.ui import PageHandlers

    on = PageHandlers(Settings(data_dir=tmp_path, workers=1, ui=False), store=None)
    args = dict(text="a calm lake", image=None, video=None, audio=None, duration=10, tempo="", key="",
                genre="auto", instruments="", seed="", model=str(tiny_musicgen), steer="none", describer="analytic",
                describer_model="", reference_mode="melody", keep_audio=False, loop=False)  # fmt: skip
    with pytest.raises(gr.Error) as caught:
        on.describe(**args, backend="musicgen", adapter=str(tmp_path / "no-adapter"))
    assert caught.value.message.startswith("LoRA adapter:"), caught.value.message
    with pytest.raises(gr.Error) as other:
        on.describe(**(args | {"model": ""}), backend="symbolic", adapter=str(tmp_path / "no-adapter"))
    assert other.value.message.startswith("LoRA adapter:") and "musicgen" in other.value.message
