"""Bad input is exit code 2 with one line in the CLI, and a 4xx in the API: never an internal error.

Issue 13, items 7 and 10: each input below used to exit 1 ("internal error", a traceback or a pydantic
dump) or answer 500.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import weavewave

SRC = str(Path(weavewave.__file__).resolve().parents[1])


def _nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def _brief(tmp: Path, **changes) -> dict:
    """A valid brief (from ``describe``), with fields replaced."""
    from weavewave import describe

    data = describe(text="a calm piano piece", seed=1, text_model="lexicon").to_dict()
    data.update(changes)
    return data


def _write(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return str(path)


# (id, argv builder, words the one line must contain). Builders get the temporary folder.
CLI_CASES = [
    (
        "duration-1e-9",
        lambda t: ["generate", "--text", "calm", "--duration", "1e-9", "--out", str(t / "o")],
        "too short",
    ),
    ("port-70000", lambda t: ["serve", "--port", "70000", "--data-dir", str(t / "d")], "--port 70000"),
    (
        "max-upload-nan",
        lambda t: ["serve", "--max-upload-mb", "nan", "--data-dir", str(t / "d")],
        "--max-upload-mb nan",
    ),
    (
        "keep-days-nan",
        lambda t: ["serve", "--keep-days", "nan", "--data-dir", str(t / "d")],
        "--keep-days nan",
    ),
    ("data-dir-a-file", lambda t: ["serve", "--data-dir", _write(t, "f", "x")], "is a file"),
    (
        "out-under-a-file",
        lambda t: ["generate", "--text", "calm", "--out", _write(t, "f", "x") + "/sub"],
        "is a file, not a folder",
    ),
    (
        "brief-nan",
        lambda t: [
            "describe",
            "--brief",
            _write(t, "b.json", json.dumps(_brief(t, duration_s=1.0)).replace("1.0", "NaN", 1)),
        ],
        "NaN",
    ),
    (
        "brief-infinity",
        lambda t: [
            "describe",
            "--brief",
            _write(t, "b.json", json.dumps(_brief(t)).replace('"tempo_bpm": ', '"tempo_bpm": 1e999, "x": ')),
        ],
        "too large to be a number",
    ),
    (
        "brief-deep",
        lambda t: ["describe", "--brief", _write(t, "b.json", '{"caption": ' + _nested(5000) + "}")],
        "nested too deeply",
    ),
    (
        "brief-shallow-but-deep",
        lambda t: ["describe", "--brief", _write(t, "b.json", '{"a": ' + _nested(500) + "}")],
        "nested too deeply",
    ),
    (
        "brief-4301-digits",
        lambda t: ["describe", "--brief", _write(t, "b.json", '{"seed": ' + "9" * 5000 + "}")],
        "5000 digits",
    ),
    (
        "brief-lone-surrogate",
        lambda t: [
            "describe",
            "--brief",
            _write(t, "b.json", json.dumps(_brief(t, caption="calm \ud800 piano"))),
        ],
        "not valid UTF-8",
    ),
    (
        "text-lone-surrogate",
        lambda t: ["describe", "--text", "a calm \udced\udca0\udc80 tune"],
        "--text is not valid UTF-8",
    ),
    ("audio-a-folder", lambda t: ["describe", "--audio", str(t)], "not a regular file"),
    ("audio-missing", lambda t: ["describe", "--audio", str(t / "nope.wav")], "not found"),
]


@pytest.mark.parametrize("build,needle", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, build, needle):
    argv = build(tmp_path)
    env = dict(os.environ, PYTHONPATH=SRC, NUMBA_CACHE_DIR=str(tmp_path / "numba"), PYTHONIOENCODING="utf-8")
    env.pop("WEAVEWAVE_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-m", "weavewave.cli", *argv, "-q" if argv[0] != "serve" else "--no-ui"],
        capture_output=True,
        timeout=120,
        env=env,
    )
    err = done.stderr.decode("utf-8", "replace")
    lines = [line for line in err.splitlines() if line.strip()]
    assert done.returncode == 2, err
    assert len(lines) == 1 and lines[0].startswith("weavewave: error: "), err
    assert needle in lines[0], err
    assert "Traceback" not in err and "pydantic" not in err
    assert not (tmp_path / "o").exists()  # nothing written, nothing rendered


def test_out_in_an_unwritable_folder_is_refused_before_rendering(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    from weavewave.cli import main

    try:
        assert main(["generate", "--text", "calm", "-q", "--out", str(locked / "sub")]) == 2
    finally:
        locked.chmod(0o755)
    assert not (locked / "sub").exists()


def test_unreadable_audio_is_refused(tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root reads anything")
    tune = tmp_path / "tune.wav"
    tune.write_bytes(b"RIFF")
    tune.chmod(0)
    from weavewave.cli import main

    assert main(["describe", "--audio", str(tune), "-q"]) == 2
    assert "cannot read it" in capsys.readouterr().err


def test_a_tiny_piece_is_written_and_exits_0(tmp_path, capsys):
    """A 0.01 s piece wrote its files, then failed printing its (missing) true peak with exit 1."""
    from weavewave.cli import main

    assert (
        main(
            [
                "generate",
                "--text",
                "calm",
                "--duration",
                "0.01",
                "--seed",
                "1",
                "--text-model",
                "lexicon",
                "-q",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )
    assert (tmp_path / "o" / "music.wav").is_file()


# --- the API: the same inputs answer 422, never 500 -----------------------------------------------------
@pytest.fixture(scope="module")
def api(tmp_path_factory):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from conftest import LOCAL_URL
    from weavewave.serve.api import create_app
    from weavewave.serve.settings import Settings

    data = tmp_path_factory.mktemp("api")
    app = create_app(Settings(data_dir=data, workers=1, text_model="lexicon", ui=False), start_workers=False)
    with TestClient(app, raise_server_exceptions=False, base_url=LOCAL_URL) as client:
        yield client


def _api_brief(**changes) -> str:
    return json.dumps(_brief(Path("."), **changes))


API_CASES = [
    ("offset-overflow", "get", "/v1/jobs?offset=9223372036854775808", None),
    ("offset-negative", "get", "/v1/jobs?offset=-1", None),
    ("limit-huge", "get", "/v1/jobs?limit=99999999999999999999999", None),
    ("brief-deep", "post", "/v1/describe", {"brief": '{"caption": ' + _nested(5000) + "}"}),
    ("brief-4301-digits", "post", "/v1/describe", {"brief": '{"seed": ' + "9" * 5000 + "}"}),
    ("brief-nan", "post", "/v1/describe", {"brief": '{"duration_s": NaN}'}),
    ("brief-infinity", "post", "/v1/generate", {"brief": '{"duration_s": Infinity}'}),
    ("brief-lone-surrogate", "post", "/v1/describe", {"brief": '{"caption": "calm \\ud800"}'}),
    ("duration-nan", "post", "/v1/describe", {"text": "calm", "duration": "nan"}),
    ("duration-inf", "post", "/v1/generate", {"text": "calm", "duration": "inf"}),
    ("duration-1e-9", "post", "/v1/describe", {"text": "calm", "duration": "1e-9"}),
    ("tempo-nan", "post", "/v1/describe", {"text": "calm", "tempo": "nan"}),
    ("seed-4301-digits", "post", "/v1/describe", {"text": "calm", "seed": "9" * 5000}),
]


@pytest.mark.parametrize("method,path,data", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_api_bad_input_is_422(api, method, path, data):
    r = api.get(path) if method == "get" else api.post(path, data=data)
    assert r.status_code == 422, (r.status_code, r.text[:500])
    assert "/work" not in r.text and "Traceback" not in r.text
