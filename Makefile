# Quick start: `make demo` (set up and make two pieces) and `make test` (set up and run the suite).
# Both work from a bare machine with Python 3.11 and the package registries.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

# The demo's text prompt and the real photograph it scores (it ships inside scikit-image).
DEMO_TEXT := A rainy night in Tokyo, neon reflections on wet streets, lonely and calm, lo-fi hip hop with a soft electric piano
DEMO_OUT := out/demo

.PHONY: demo test install lint bench clean browser soundfont

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch first, pinned: it is the CPU build; anything unpinned would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet "torch==2.13.0"
	$(PIP) install --quiet -e ".[semantic,demo,test,video,eval,serve,audio,neural,library,train,batch,ray]"
	# Audio transcription (perceive/audio.py): basic-pitch ships its ONNX model; a plain install would pull
	# tensorflow and downgrade numpy, so it goes in without its dependencies (they are in the `audio` extra).
	$(PIP) install --quiet --no-deps "basic-pitch==0.4.0"
	# Compile librosa's numba functions once, serially, so parallel first runs cannot corrupt the cache.
	$(VENV)/bin/weavewave warmup
	touch $@

install: $(VENV)/.installed

demo: install soundfont
	$(VENV)/bin/weavewave generate --text "$(DEMO_TEXT)" --duration 30 --stems --force --out $(DEMO_OUT)/text
	$(VENV)/bin/weavewave generate --image "$$($(PY) -c 'import skimage, pathlib; print(pathlib.Path(skimage.__file__).parent / "data" / "coffee.png")')" \
		--duration 30 --stems --force --out $(DEMO_OUT)/photo
	@echo
	@echo "Listen to $(DEMO_OUT)/text/music.wav and $(DEMO_OUT)/photo/music.wav;"
	@echo "open the .mid files in a DAW; edit a brief.json and run: $(VENV)/bin/weavewave generate --brief $(DEMO_OUT)/text/brief.json --out mine"

test: install browser
	$(VENV)/bin/ruff check src tests bench tools
	$(VENV)/bin/ruff format --check src tests bench tools
	$(VENV)/bin/mypy src/weavewave
	$(PY) -m pytest -q

# The browser end-to-end test drives Debian's Chromium. Install it when missing and we are root with
# apt; otherwise that one test skips and says why. Quiet and idempotent.
browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1; }; } ; } || \
	echo "note: could not install chromium (needs root and apt); the browser test will skip"

# A fuller General MIDI SoundFont for the demo (docs/SOUNDFONTS.md): MuseScore General when it is missing
# and we are root with apt (Debian's FluidR3 if that package is not there); render.find_soundfont prefers
# them. Quiet, idempotent, never fatal: without them the bundled TimGM6mb.sf2 plays. `make test` does not
# need it.
SOUNDFONT_FILE := /usr/share/sounds/sf2/MuseScore_General_Full.sf2
SOUNDFONT_PKG := musescore-general-soundfont-lossless
SOUNDFONT_FALLBACK_PKG := fluid-soundfont-gm
APT_QUIET := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq

soundfont:
	@[ -f $(SOUNDFONT_FILE) ] || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { $(APT_QUIET) $(SOUNDFONT_PKG) >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && $(APT_QUIET) $(SOUNDFONT_PKG) >/dev/null 2>&1; } || \
	    $(APT_QUIET) $(SOUNDFONT_FALLBACK_PKG) >/dev/null 2>&1; } ; } || \
	echo "note: could not install $(SOUNDFONT_PKG) (needs root and apt); rendering with the bundled TimGM6mb.sf2"

lint: install
	$(VENV)/bin/ruff check src tests bench tools
	$(VENV)/bin/ruff format --check src tests bench tools

bench: install
	$(PY) bench/bench_generate.py

clean:
	rm -rf $(VENV) out .pytest_cache
