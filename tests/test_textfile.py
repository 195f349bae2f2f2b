"""Special files named on the command line are refused before reading: no hang, no growth, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import weavewave
from weavewave.errors import BadInputError
from weavewave.io.text import MAX_TEXT_FILE_BYTES, read_text_file

SRC = str(Path(weavewave.__file__).resolve().parents[1])
# A refused special file answers at once; reading one (a FIFO nobody writes, /dev/zero) never ends.
ANSWER_WITHIN_S = 30


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "weavewave.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=ANSWER_WITHIN_S,
    )


@pytest.fixture()
def fifo(tmp_path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("flag", ["--brief", "--text"], ids=["brief", "text"])
def test_a_fifo_is_refused_not_waited_on(fifo, flag):
    arg = str(fifo) if flag == "--brief" else f"@{fifo}"
    r = _cli("describe", flag, arg)
    assert r.returncode == 2, r.stderr
    assert "named pipe" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("flag", ["--brief", "--text"], ids=["brief", "text"])
def test_dev_zero_is_refused_before_reading(flag):
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    r = _cli("describe", flag, "/dev/zero" if flag == "--brief" else "@/dev/zero")
    assert r.returncode == 2, r.stderr
    assert "character device" in r.stderr and "Traceback" not in r.stderr


def test_a_folder_and_an_oversized_file_are_refused(tmp_path):
    with pytest.raises(BadInputError, match="folder"):
        read_text_file(tmp_path, what="text file")
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (MAX_TEXT_FILE_BYTES + 1))
    with pytest.raises(BadInputError, match="larger than"):
        read_text_file(big, what="text file")
    small = tmp_path / "story.txt"
    small.write_text("a lighthouse in a storm", encoding="utf-8")
    assert read_text_file(small, what="text file") == "a lighthouse in a storm"
