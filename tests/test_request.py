"""One request model for every face: the CLI, Python and HTTP make the same bytes from the same request,
and each face names the same fields and refuses the same mistakes."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from conftest import LOCAL_URL, wait_job
from weavewave import api
from weavewave.cli import build_parser, main
from weavewave.errors import FieldError
from weavewave.request import Request, cli_flag

# A request that uses fields the HTTP API did not take before (meter, format, candidates, rerank).
REQUEST = {
    "text": "a wistful waltz by the river, piano and strings",
    "duration": 6,
    "tempo": 96,
    "key": "A minor",
    "meter": "3/4",
    "instruments": "piano, strings",
    "seed": 11,
    "format": "flac",
    "candidates": 2,
    "rerank": "adherence",
    "text_model": "lexicon",
}
FILES = ("music.flac", "music.mid", "brief.json")


def _digests(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in FILES}


def _cli_args(fields: dict) -> list[str]:
    return [x for k, v in fields.items() for x in (cli_flag(k), str(v))]


def test_cli_python_and_http_make_the_same_bytes(tmp_path, photo_path):
    from fastapi.testclient import TestClient

    from weavewave.serve.api import create_app
    from weavewave.serve.settings import Settings

    request = Request.build(REQUEST, image=str(photo_path))
    track = api.generate(request)
    api.save(track, request, tmp_path / "python")
    python = _digests(tmp_path / "python")

    assert (
        main(
            [
                "generate",
                *_cli_args(REQUEST),
                "--image",
                str(photo_path),
                "--out",
                str(tmp_path / "cli"),
                "-q",
            ]
        )
        == 0
    )
    assert _digests(tmp_path / "cli") == python

    settings = Settings(data_dir=tmp_path / "data", workers=1, text_model="lexicon", ui=False)
    with TestClient(create_app(settings), base_url=LOCAL_URL) as client:
        form = {k: str(v) for k, v in REQUEST.items()}
        photo = {"image": (photo_path.name, photo_path.read_bytes(), "image/png")}
        r = client.post("/v1/generate", data=form, files=photo)
        assert r.status_code == 202, r.text
        job = wait_job(client, r.json()["id"], timeout=180)
        assert job["status"] == "succeeded", job
        http = {name: hashlib.sha256(client.get(f"/v1/jobs/{job['id']}/files/{name}").content).hexdigest()
                for name in FILES}  # fmt: skip
    assert http == python
    # and the request was really honoured, not just equally ignored
    brief = track.brief
    assert brief.meter == "3/4" and brief.tempo_bpm == 96 and str(brief.key) == "A minor"
    assert "rerank" in brief.provenance or any("candidate" in p.reason for p in brief.provenance.values())


@pytest.fixture
def photo_path(skimage_data) -> Path:
    return skimage_data / "coffee.png"


def test_cli_options_are_the_request_fields():
    """Every request field is a `generate` option of the same name, and nothing else is (but where to
    write)."""
    parser = build_parser()
    generate = parser._subparsers._group_actions[0].choices["generate"]  # type: ignore[union-attr]
    flags = {s for a in generate._actions for s in a.option_strings if s.startswith("--")}
    fields = {cli_flag(name) for name in Request.model_fields}
    assert flags - fields == {"--help", "--out", "--force", "--quiet"}
    assert fields <= flags


def test_python_keywords_are_checked_like_the_other_faces():
    with pytest.raises(FieldError) as err:
        api.describe(text="a march", tempo=400)
    assert err.value.field == "tempo"
    with pytest.raises(FieldError) as err:
        api.describe(text="a march", top_k=5)  # a MusicGen option with the symbolic backend
    assert err.value.field == "top_k" and "musicgen" in err.value.reason
    with pytest.raises(FieldError) as err:
        api.describe(text="a march", temperatre=0.5)
    assert err.value.field == "temperatre"


def test_a_field_error_names_fields_in_each_face_s_words(tmp_path, capsys):
    assert main(["generate", "--text", "calm", "--keep-audio", "--out", str(tmp_path / "o")]) == 2
    line = capsys.readouterr().err.strip()
    assert line == "weavewave: error: --keep-audio: keeps a video's own sound: give the video with --video"
    with pytest.raises(FieldError) as err:
        Request.build(text="calm", keep_audio=True)
    assert str(err.value) == "keep_audio: keeps a video's own sound: give the video with video"
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def queue_only(tmp_path_factory):
    from fastapi.testclient import TestClient

    from weavewave.serve.api import create_app
    from weavewave.serve.settings import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("req"), workers=1, text_model="lexicon", ui=False)
    with TestClient(create_app(settings, start_workers=False), base_url=LOCAL_URL) as client:
        yield client


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"text": "x", "tempp": "90"}, "tempp", "not a field"),
        ({"text": "x", "soundfont": "/usr/share/sounds/sf2/x.sf2"}, "soundfont", "not a field"),
        ({"image": "/etc/hostname"}, "image", "upload"),
        ({"text": "x", "top_k": "5"}, "top_k", "musicgen"),
        ({"text": "x", "meter": "5/4"}, "meter", "5/4"),
        ({"text": "x", "format": "ogg"}, "format", "wav, flac, mp3"),
        ({"text": "x", "candidates": "3"}, "candidates", "rerank"),
    ],
)
def test_http_refuses_what_the_request_model_refuses(queue_only, data, field, words):
    r = queue_only.post("/v1/generate", data=data)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", field] and words in detail["msg"], detail


def test_http_takes_a_json_body_and_the_new_fields(queue_only):
    r = queue_only.post(
        "/v1/describe", json={"text": "a sea shanty", "meter": "6/8", "tempo": 100, "seed": 3}
    )
    assert r.status_code == 200, r.text
    assert r.json()["meter"] == "6/8" and r.json()["tempo_bpm"] == 100
    r = queue_only.post("/v1/generate", json={"text": "a sea shanty", "format": "mp3", "duration": 4})
    assert r.status_code == 202, r.text
    stored = queue_only.app.state.store.get(r.json()["id"]).params["request"]
    assert stored["format"] == "mp3" and "backend" not in stored  # defaults are not stored


def test_openapi_lists_every_http_field(queue_only):
    schema = queue_only.get("/openapi.json").json()["paths"]["/v1/generate"]["post"]["requestBody"]
    props = schema["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"meter", "format", "melody", "top_k", "candidates", "rerank", "guidance"} <= set(props)
    assert "soundfont" not in props and props["image"]["items"]["format"] == "binary"


def test_a_brief_made_by_a_generator_is_made_again_by_it(tmp_path):
    """generate --brief with no backend uses the generator the brief records (the same bytes)."""
    first = api.generate(text="a quiet harbour at dawn", duration=4, seed=2, text_model="lexicon")
    assert first.brief.generator is not None and first.brief.generator.backend == "symbolic"
    again = api.generate(brief=first.brief)
    assert again.audio.tobytes() == first.audio.tobytes()
    assert re.search("symbolic", again.brief.generator.backend)


def test_http_never_reads_a_brief_from_a_server_path(queue_only, tmp_path):
    secret = tmp_path / "brief.json"
    secret.write_text('{"not": "a brief"}')
    for value in (str(secret), "/etc/hostname"):
        r = queue_only.post("/v1/describe", data={"brief": value})
        detail = r.json()["detail"][0]
        assert r.status_code == 422 and detail["loc"] == ["body", "brief"], r.text
        assert (
            "not valid JSON" in detail["msg"]
        )  # read as JSON text; the file behind the path was never opened


def test_a_value_with_a_newline_still_gives_a_one_line_error():
    # found by the fuzz test: a brief path of "\n" was quoted into the reason as a line break
    with pytest.raises(FieldError) as err:
        Request.build(brief="\n")
    assert err.value.field == "brief" and "\n" not in str(err.value) and "\n" not in err.value.for_cli()
