"""Image bombs: a small file declaring a huge size is refused from its header, in bounded memory
(issue 13, item 6: a 335 KB PNG declaring 9400x9400 cost 2.1 GB in the API process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import weavewave

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from weavewave.errors import BadInputError  # noqa: E402
from weavewave.perceive import image as image_module  # noqa: E402

SRC = str(Path(weavewave.__file__).resolve().parents[1])
BOMB_SIDE = 9400  # 88 MP: under Pillow's own 89 MP threshold, so Pillow alone decoded it in full
# Peak memory of a process that imports the image perceiver and refuses the bomb; decoding it took 2.1 GB.
MAX_RSS_MB = 400


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    Image.new("1", (BOMB_SIDE, BOMB_SIDE)).save(path)  # 1 bit a pixel: about 11 MB here, a few KB on disk
    assert path.stat().st_size < 1024 * 1024
    return path


def test_a_small_png_declaring_a_huge_size_is_refused(bomb):
    with pytest.raises(BadInputError, match=r"bomb\.png is 9400x9400 \(88 MP\), over the 40 MP safety limit"):
        image_module.perceive_image(bomb)


def test_the_refusal_needs_little_memory(bomb):
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from weavewave.errors import BadInputError\n"
        "from weavewave.perceive.image import perceive_image\n"
        "try:\n"
        "    perceive_image(sys.argv[2]); print('decoded')\n"
        "except BadInputError as exc:\n"
        "    print('refused', exc)\n"
        # VmHWM, not ru_maxrss: ru_maxrss keeps the forking parent's size across exec (a large
        # pytest process), the high-water mark of this process's own memory does not.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(int(hwm.split()[1]) // 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, SRC, str(bomb)],
        capture_output=True,
        text=True,
        timeout=120,
        # a clean environment: variables other tests leave behind must not change what loads
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"), "PYTHONPATH": SRC},
    )
    verdict, peak_mb = done.stdout.strip().splitlines()
    assert verdict.startswith("refused"), done.stdout + done.stderr
    assert int(peak_mb) < MAX_RSS_MB, f"peak {peak_mb} MB"


def test_the_api_refuses_the_bomb_with_422(bomb, tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from conftest import LOCAL_URL
    from weavewave.serve.api import create_app
    from weavewave.serve.settings import Settings

    app = create_app(
        Settings(data_dir=tmp_path, workers=1, text_model="lexicon", ui=False), start_workers=False
    )
    with TestClient(app, base_url=LOCAL_URL) as client:
        r = client.post("/v1/describe", files={"image": ("bomb.png", bomb.read_bytes(), "image/png")})
    assert r.status_code == 422 and "safety limit" in r.text, r.text


def test_limits_are_checked_on_the_header_not_the_pixels(tmp_path, monkeypatch):
    """A JPEG may declare up to 64 times the limit (it is decoded at reduced scale); others may not."""
    monkeypatch.setattr(image_module, "MAX_DECODE_PIXELS", 100 * 100 - 1)
    monkeypatch.setattr(image_module, "MAX_JPEG_PIXELS", 64 * (100 * 100 - 1))
    png, jpg = tmp_path / "a.png", tmp_path / "a.jpg"
    Image.new("RGB", (100, 100), (10, 20, 30)).save(png)
    Image.new("RGB", (100, 100), (10, 20, 30)).save(jpg)
    with pytest.raises(BadInputError, match="safety limit for PNG"):
        image_module.load_image(png)
    assert image_module.load_image(jpg, max_side=50).shape == (50, 50, 3)
