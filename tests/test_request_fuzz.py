"""Property-based fuzz of the one request model and the faces on it: whatever a user sends, the answer is a
request, or one line naming the field (exit 2 on the CLI, 422 over HTTP); never an internal error."""

from __future__ import annotations

import math

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from weavewave.errors import FieldError  # noqa: E402
from weavewave.request import Request, cli_flag  # noqa: E402

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Values of every kind a face can hand over: text (with lone surrogates and control characters), numbers
# at and past every edge (NaN, infinities, huge integers), booleans, lists and nested objects.
ANY_VALUE = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.booleans(),
    st.lists(st.text(max_size=10), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
FIELDS = st.dictionaries(st.sampled_from(sorted(Request.model_fields)), ANY_VALUE, max_size=6)
# Plausible values per control, so many requests get past the types to the checks of how fields combine.
CONTROL_VALUES = st.fixed_dictionaries(
    {},
    optional={
        "tempo": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-1000, 1000)),
        "duration": st.floats(allow_nan=True, allow_infinity=True),
        "key": st.sampled_from(["F# minor", "c#m", "H major", "", "A dorian", "x"]),
        "meter": st.sampled_from(["4/4", "3/4", "6/8", "5/4", "", "4"]),
        "genre": st.sampled_from(["jazz", "lo-fi", "polka", ""]),
        "instruments": st.sampled_from(["piano, strings", ",", "kazoo", "drums"]),
        "seed": st.integers(-5, 2**33),
        "loop": st.booleans(),
        "instruction": st.sampled_from(["as jazz", " ", "in 3/4"]),
        "reference_mode": st.sampled_from(["melody", "everything"]),
        "candidates": st.integers(-2, 40),
        "rerank": st.sampled_from(["adherence", "nope", "clap"]),
        "top_k": st.integers(-5, 500),
        "backend": st.sampled_from(["symbolic", "musicgen", "other"]),
        "stems": st.booleans(),
        "keep_audio": st.booleans(),
    },
)


@FUZZ
@given(FIELDS)
def test_any_fields_give_a_request_or_a_field_error(fields):
    try:
        request = Request.build(fields)
    except FieldError as exc:
        assert exc.field and exc.reason and "\n" not in str(exc)
        return
    for name in ("tempo", "duration"):
        value = getattr(request, name)
        assert value is None or math.isfinite(value)


@FUZZ
@given(CONTROL_VALUES)
def test_plausible_controls_give_a_request_or_a_field_error(controls):
    try:
        request = Request.build({"text": "a calm lake", **controls})
    except FieldError as exc:
        assert exc.field in Request.model_fields or exc.field == "request", exc
        return
    assert request.tempo is None or 30 <= request.tempo <= 300
    assert request.backend != "musicgen" or not request.stems


@FUZZ
@given(controls=CONTROL_VALUES)
def test_the_cli_exits_0_or_2(controls, capsys):
    from weavewave.cli import main

    args = ["describe", "--text", "a calm lake", "--text-model", "lexicon", "-q"]
    describe_fields = {"tempo", "duration", "key", "meter", "genre", "instruments", "seed", "loop", "instruction",
                       "reference_mode"}  # fmt: skip
    for name, value in controls.items():
        if name not in describe_fields:
            continue
        if isinstance(value, bool):
            args += [cli_flag(name)] if value else []
        else:
            args += [cli_flag(name), str(value)]
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own refusals (a value that is not a number): exit 2
        code = exc.code
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "internal error" not in err and "Traceback" not in err


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from fastapi.testclient import TestClient

    from conftest import LOCAL_URL
    from weavewave.serve.api import create_app
    from weavewave.serve.settings import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("fuzz"), workers=1, text_model="lexicon", ui=False)
    with TestClient(create_app(settings, start_workers=False), base_url=LOCAL_URL) as c:
        yield c


@FUZZ
@given(CONTROL_VALUES, st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=2))
def test_the_http_api_answers_200_or_a_named_422(client, controls, extra):
    form = {
        "text": "a calm lake",
        **{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in controls.items()},
    }
    form.update({k: v for k, v in extra.items() if k not in form})
    r = client.post("/v1/describe", data=form)
    assert r.status_code in (200, 422), (r.status_code, r.text)
    if r.status_code == 422:
        detail = r.json()["detail"][0]
        assert detail["loc"][0] == "body" and detail["msg"], detail
