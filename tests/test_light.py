"""The light path stays light: importing weavewave and --help never import torch, transformers, gradio."""

import subprocess
import sys

HEAVY = ("torch", "transformers", "gradio", "ray", "sentence_transformers")


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_import_weavewave_is_light():
    assert not _loaded_after("import weavewave") & set(HEAVY)


def test_help_is_light():
    code = (
        "import sys\nfrom weavewave.cli import main\n"
        "try:\n    main(['generate', '--help'])\nexcept SystemExit:\n    pass"
    )
    assert not _loaded_after(code) & set(HEAVY)


def test_building_the_parser_imports_no_numpy():
    # every subcommand's options are built for any --help; their defaults come from light modules
    # (weavewave.train, generators.flow.settings), so a cold `weavewave --help` takes about 0.2 s, not 0.4
    for argv in (["--help"], ["train", "flow", "--help"], ["train", "adapter", "--help"]):
        code = f"from weavewave.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
        assert not _loaded_after(code) & {*HEAVY, "numpy", "lancedb"}, argv


def test_lexicon_describe_is_light():
    code = "import weavewave\nweavewave.describe(text='a calm sunrise', text_model='lexicon')"
    assert not _loaded_after(code) & set(HEAVY)


# --- video: PyAV is imported only when a video is read ---
def test_video_modules_import_without_av():
    code = (
        "import weavewave\nimport weavewave.perceive.video, weavewave.bridge.picture, weavewave.export.video\n"
        "from weavewave.cli import main\ntry:\n    main(['generate', '--help'])\nexcept SystemExit:\n    pass"
    )
    assert "av" not in _loaded_after(code)


# --- evaluation ---------------------------------------------------------------------------------------
def test_eval_modules_and_help_are_light():
    code = (
        "import weavewave.evaluate.report, weavewave.evaluate.neural, weavewave.evaluate.rerank\n"
        "from weavewave.cli import main\n"
        "try:\n    main(['eval', '--help'])\nexcept SystemExit:\n    pass"
    )
    loaded = _loaded_after(code)
    assert not loaded & {*HEAVY, "librosa", "matplotlib"}


def test_encodec_embedder_module_and_models_listing_are_light():
    code = (
        "import weavewave.evaluate.encoders, weavewave.evaluate.embed\n"
        "from weavewave.cli import main\n"
        "main(['models'])"
    )
    assert not _loaded_after(code) & {*HEAVY, "librosa", "scipy"}


# --- serve: the server's libraries load only when it starts ------------------------------------------
SERVER_LIBS = ("fastapi", "gradio", "uvicorn", "starlette", "multipart")


def test_serve_help_is_light():
    code = (
        "import sys\nfrom weavewave.cli import main\n"
        "for argv in (['--help'], ['serve', '--help']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "import weavewave.serve"
    )
    assert not _loaded_after(code) & set(HEAVY + SERVER_LIBS)


# --- audio perception and restyling (audio engineer) -------------------------------------------------
AUDIO_HEAVY = ("librosa", "basic_pitch", "onnxruntime", "soundfile", "numba")


def test_audio_modules_import_light():
    code = "import weavewave.perceive.audio, weavewave.bridge.refine, weavewave.music.melodic, weavewave.music.reharmonize"
    assert not _loaded_after(code) & set(HEAVY + AUDIO_HEAVY)


def test_help_mentions_audio_and_stays_light():
    code = (
        "import sys\nfrom weavewave.cli import main\n"
        "try:\n    main(['generate', '--help'])\nexcept SystemExit:\n    pass"
    )
    assert not _loaded_after(code) & set(AUDIO_HEAVY)


# --- neural engineer: the neural modules import nothing heavy until they are used -------------------------
def test_neural_modules_are_light():
    code = (
        "import weavewave.neural.models, weavewave.generators.musicgen.generator, weavewave.generators.musicgen.chroma, "
        "weavewave.generators.musicgen.fast, weavewave.perceive.mllm, weavewave.bridge.refine_llm"
    )
    assert not _loaded_after(code) & set(HEAVY)


def test_models_command_and_musicgen_help_are_light():
    code = (
        "from weavewave.cli import main\nmain(['models'])\n"
        "try:\n    main(['generate', '--backend', 'musicgen', '--help'])\nexcept SystemExit:\n    pass"
    )
    assert not _loaded_after(code) & set(HEAVY)
