"""End to end in a real browser: `weavewave serve`, Debian's Chromium, a real photo, an edited brief.

The page is driven as a person would: upload skimage's coffee photo, Describe, read the brief, change
the tempo, Generate, wait. The audio player must then hold a playable source of the brief's length,
and the MIDI download must be a real MIDI file at the edited tempo. A screenshot is kept in
``tests/artifacts/`` for people to look at.

`make test` installs chromium and chromium-driver from Debian when missing; where that is impossible
(not root, no apt) this test skips and says so.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("gradio")
selenium = pytest.importorskip("selenium")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).parent / "artifacts"
DURATION_S = 10
EDITED_TEMPO = 96

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)),
    reason="Debian's chromium and chromium-driver are not installed and could not be (make test installs them "
    "with apt-get when run as root): the browser end-to-end test cannot run here",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real `weavewave serve` process on a free loopback port."""
    port = _free_port()
    data = tmp_path_factory.mktemp("serve-browser")
    log = open(data / "server.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "weavewave.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
            "--data-dir",
            str(data / "data"),
            "--text-model",
            "lexicon",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 240  # a loaded CI machine imports Gradio slowly
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("weavewave serve did not start: " + (data / "server.log").read_text()[-2000:])
        time.sleep(0.3)
    yield url
    proc.terminate()
    assert proc.wait(90) == 0, "SIGTERM should stop the server cleanly"
    log.close()
    assert "weavewave: stopped" in (data / "server.log").read_text()


@pytest.fixture(scope="module")
def browser():
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1440,900",
        "--autoplay-policy=no-user-gesture-required",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_script_timeout(120)  # the media element's metadata load, on a loaded machine
    yield driver
    driver.quit()


def _css(driver, selector: str, timeout: float = 120):
    return WebDriverWait(driver, timeout).until(
        lambda d: d.find_element(By.CSS_SELECTOR, selector), message=f"no {selector} on the page"
    )


def test_photo_to_music_in_the_browser(server, browser, skimage_data):
    import httpx
    import pretty_midi

    browser.get(server + "/")
    _css(browser, "#ww-image input[type=file]").send_keys(str(skimage_data / "coffee.png"))
    WebDriverWait(browser, 120).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#ww-image img"), message="the uploaded photo never showed"
    )
    slider_number = _css(browser, "#ww-duration input[type=number]")
    slider_number.send_keys(Keys.CONTROL, "a")
    slider_number.send_keys(str(DURATION_S), Keys.TAB)
    WebDriverWait(browser, 120).until(  # the slider took the typed length before Describe reads it
        lambda d: (
            d.find_element(By.CSS_SELECTOR, "#ww-duration input[type=range]").get_attribute("value")
            == str(DURATION_S)
        ),
        message="the duration slider did not take the typed value",
    )
    _css(browser, "#ww-describe").click()

    # The described brief: a caption that speaks of the photo, and provenance rows.
    caption = WebDriverWait(browser, 240).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#ww-caption textarea").get_attribute("value") or None
    )
    assert "image" in caption.lower(), caption
    why = WebDriverWait(browser, 120).until(
        lambda d: (t := d.find_element(By.CSS_SELECTOR, "#ww-why").text) and "tempo_bpm" in t and t
    )
    assert "image" in why, why
    described_tempo = float(_css(browser, "#ww-tempo input").get_attribute("value"))
    assert float(_css(browser, "#ww-bduration input").get_attribute("value")) == DURATION_S

    # Edit one field: the tempo.
    assert described_tempo != EDITED_TEMPO
    tempo = _css(browser, "#ww-tempo input")
    tempo.send_keys(Keys.CONTROL, "a")
    tempo.send_keys(str(EDITED_TEMPO), Keys.TAB)
    WebDriverWait(browser, 120).until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, "#ww-tempo input").get_attribute("value") == str(EDITED_TEMPO)
        )
    )
    # Leaving the field applies the edit: the caption and the provenance follow before Generate.
    WebDriverWait(browser, 120).until(
        lambda d: (
            f"at {EDITED_TEMPO} BPM"
            in d.find_element(By.CSS_SELECTOR, "#ww-caption textarea").get_attribute("value")
        ),
        message="the caption did not follow the edited tempo",
    )
    WebDriverWait(browser, 120).until(
        lambda d: (
            f"tempo {EDITED_TEMPO}: set in the web page" in d.find_element(By.CSS_SELECTOR, "#ww-why").text
        ),
        message="the provenance table did not say the tempo was set in the page",
    )
    _css(browser, "#ww-generate").click()

    # The audio player gets a playable source of the brief's length: Gradio's player shows it, and the
    # browser itself loads that source in a media element and reports its duration.
    src = WebDriverWait(browser, 480, poll_frequency=1).until(
        lambda d: d.execute_script(
            "const a = document.querySelector('#ww-audio-out a[download]'); return a ? a.href : null;"
        )
    )
    assert src.split("?")[0].endswith(".wav"), src
    duration = browser.execute_async_script(
        "const done = arguments[arguments.length - 1]; const a = new Audio();"
        "a.onloadedmetadata = () => done(a.duration); a.onerror = () => done(-1);"
        "a.preload = 'metadata'; a.src = arguments[0];",
        src,
    )
    assert abs(duration - DURATION_S) < 0.5, (src, duration)
    assert browser.execute_script("return new Audio().canPlayType('audio/wav')")
    # Gradio's own player decodes the file before it shows the length; under CPU load that takes a while,
    # so wait for the condition (the shown length) rather than reading it once.
    shown = f"0:{DURATION_S:02d}"
    WebDriverWait(browser, 180, poll_frequency=0.5).until(
        lambda d: shown in d.find_element(By.CSS_SELECTOR, "#ww-audio-out").text,
        message=f"the page's audio player never showed {shown}",
    )

    # The MIDI download works and carries the edited tempo.
    links = WebDriverWait(browser, 120).until(
        lambda d: (
            [
                a.get_attribute("href")
                for a in d.find_elements(By.CSS_SELECTOR, "#ww-files a")
                if (a.get_attribute("href") or "").endswith(".mid")
            ]
            or None
        )
    )
    midi_bytes = httpx.get(links[0], timeout=30).content
    assert midi_bytes[:4] == b"MThd"
    midi = pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes))
    assert abs(midi.get_tempo_changes()[1][0] - EDITED_TEMPO) < 0.5
    assert midi.get_end_time() <= DURATION_S + 0.5

    ARTIFACTS.mkdir(exist_ok=True)
    browser.execute_script("window.scrollTo(0, 0)")
    browser.set_window_size(
        1440, browser.execute_script("return document.documentElement.scrollHeight") + 140
    )
    time.sleep(1.0)
    shot = ARTIFACTS / "serve-browser.png"
    browser.save_screenshot(str(shot))
    browser.set_window_size(1440, 900)
    assert shot.stat().st_size > 10_000


def test_video_to_scored_video_in_the_browser(server, browser, tmp_path):
    """A clip on the Video tab: the music is as long as the clip, and the page shows the clip with it."""
    pytest.importorskip("av")
    from video_media import PHOTOS, Shot, make_video  # tests/ is on sys.path

    clip = tmp_path / "clip.mp4"
    truth = make_video(clip, [Shot(PHOTOS[i], 40) for i in range(3)])  # three 1.6 s shots at 25 fps
    browser.get(server + "/")
    _css(browser, "#ww-describe")
    WebDriverWait(browser, 60).until(
        lambda d: d.find_element(By.XPATH, "//button[@role='tab' and normalize-space()='Video']")
    ).click()
    _css(browser, "#ww-video input[type=file]").send_keys(str(clip))
    WebDriverWait(browser, 120).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#ww-video video"),
        message="the uploaded clip never showed",
    )
    _css(browser, "#ww-describe").click()

    # The brief follows the clip: its length (not the slider's 30 s) and a section per scene.
    WebDriverWait(browser, 240).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#ww-caption textarea").get_attribute("value") or None,
        message="no brief after Describe",
    )
    length = float(_css(browser, "#ww-bduration input").get_attribute("value"))
    assert abs(length - truth["duration"]) < 0.05, (length, truth)
    _css(browser, "#ww-generate").click()

    # The page shows the video with its new soundtrack, as long as the clip.
    src = WebDriverWait(browser, 480, poll_frequency=1).until(
        lambda d: d.execute_script(
            "const v = document.querySelector('#ww-video-out video'); return v && v.currentSrc ? v.currentSrc : null;"
        ),
        message="the scored video never showed",
    )
    assert src.split("?")[0].endswith(".mp4"), src
    seconds = browser.execute_async_script(
        "const done = arguments[arguments.length - 1]; const v = document.createElement('video');"
        "v.onloadedmetadata = () => done(v.duration); v.onerror = () => done(-1);"
        "v.preload = 'metadata'; v.src = arguments[0];",
        src,
    )
    assert abs(seconds - truth["duration"]) < 0.3, (src, seconds, truth)
    links = [a.get_attribute("href") or "" for a in browser.find_elements(By.CSS_SELECTOR, "#ww-files a")]
    assert any(h.endswith(".wav") for h in links) and any(h.endswith(".mid") for h in links), links
    ARTIFACTS.mkdir(exist_ok=True)
    browser.find_element(By.CSS_SELECTOR, "#ww-video-out").location_once_scrolled_into_view  # noqa: B018
    browser.save_screenshot(str(ARTIFACTS / "serve-browser-video.png"))


def _toasts(driver) -> str:
    return driver.execute_script(
        "return [...document.querySelectorAll('.toast-body')].map(e => e.innerText).join(' | ')"
    )


def test_advanced_fields_caption_progress_and_docs_in_the_browser(server, browser):
    """Opening Advanced settings leaves Tempo and Seed empty ("auto", not 0) and Describe works; an error
    names the page's field; the caption follows a Genre edit until the user types one; while a piece is
    made, one progress bar shows (on the player), not one over every field; /docs renders offline."""
    browser.get(server + "/")
    _css(browser, "#ww-describe")
    browser.find_element(By.XPATH, "//button[contains(., 'Advanced settings')]").click()
    tempo = _css(browser, "#ww-adv-tempo textarea, #ww-adv-tempo input")
    seed = _css(browser, "#ww-seed textarea, #ww-seed input")
    time.sleep(1.0)  # the accordion's fields have rendered; the old Number fields filled in 0 by now
    assert tempo.get_attribute("value") == "" and seed.get_attribute("value") == ""

    _css(browser, "#ww-text textarea").send_keys("a rainy night in Tokyo, neon on wet streets")
    slider_number = _css(browser, "#ww-duration input[type=number]")
    slider_number.send_keys(Keys.CONTROL, "a")
    slider_number.send_keys("6", Keys.TAB)
    # A bad value: the error names the field as the page shows it.
    tempo.send_keys("20", Keys.TAB)
    _css(browser, "#ww-describe").click()
    said = WebDriverWait(browser, 120, poll_frequency=0.2).until(
        lambda d: (t := _toasts(d)) and "Tempo" in t and t, message="no error naming Tempo"
    )
    assert "Tempo: 20 BPM is out of range" in said and "Value" not in said, said
    for close in browser.find_elements(By.CSS_SELECTOR, ".toast-close"):
        close.click()
    tempo.send_keys(Keys.CONTROL, "a")
    tempo.send_keys(Keys.DELETE, Keys.TAB)

    # Describe with the Advanced fields untouched (empty) works.
    _css(browser, "#ww-describe").click()
    caption = WebDriverWait(browser, 240).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#ww-caption textarea").get_attribute("value") or None
    )
    assert not _toasts(browser)
    genre = next(
        g
        for g in ("jazz", "folk", "ambient")
        if g != _css(browser, "#ww-bgenre input").get_attribute("value")
    )
    _css(browser, "#ww-bgenre input").click()
    WebDriverWait(browser, 30).until(
        lambda d: [o for o in d.find_elements(By.CSS_SELECTOR, "[role=option]") if o.text.strip() == genre]
    )[0].click()
    WebDriverWait(browser, 60).until(
        lambda d: (
            (c := d.find_element(By.CSS_SELECTOR, "#ww-caption textarea").get_attribute("value")) != caption
            and genre in c
        ),
        message="the caption did not follow the Genre edit",
    )
    # The user's own caption is kept through a later edit.
    own = "Slow rain on a tin roof, one guitar"
    box = _css(browser, "#ww-caption textarea")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(own, Keys.TAB)
    b_tempo = _css(browser, "#ww-tempo input")
    b_tempo.send_keys(Keys.CONTROL, "a")
    b_tempo.send_keys("88", Keys.TAB)
    WebDriverWait(browser, 60).until(
        lambda d: "tempo 88: set in the web page" in d.find_element(By.CSS_SELECTOR, "#ww-why").text
    )
    assert box.get_attribute("value") == own

    # One progress bar while the piece is made, on the player.
    _css(browser, "#ww-generate").click()
    counts: list[tuple[int, int]] = []
    deadline = time.monotonic() + 480
    while time.monotonic() < deadline:
        counts.append(
            browser.execute_script(
                "const bars = [...document.querySelectorAll('.progress-bar-wrap')].filter(e => e.offsetParent);"
                "return [bars.length, bars.filter(e => e.closest('#ww-audio-out')).length];"
            )
        )
        if browser.execute_script("return !!document.querySelector('#ww-audio-out a[download]')"):
            break
        time.sleep(0.1)
    shown = [c for c in counts if c[0]]
    assert shown, "no progress bar while the piece was made"
    assert all(c == [1, 1] for c in shown), f"progress bars (all, on the player) over time: {shown[:10]}"
    assert _css(browser, "#ww-caption textarea").get_attribute("value") == own

    # The API's browser renders offline: its scripts come from this server.
    browser.get(server + "/docs")
    WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock"), message="/docs stayed blank"
    )


def test_references_from_the_servers_library_in_the_browser(server, browser, tmp_path):
    """A track added to the server's library shows on the Library tab; "References from your library" set
    to 1 makes Describe borrow from it, and the caption and the provenance say so."""
    import httpx

    from library_media import render_labelled  # tests/ is on sys.path

    piece = render_labelled(tmp_path / "music", 1, duration=8.0)[0]
    r = httpx.post(f"{server}/v1/library/tracks", files={"file": (piece.path.name, piece.path.read_bytes())},
                   timeout=240)  # fmt: skip
    assert r.status_code == 201, r.text
    track_id = r.json()["track"]["id"]
    browser.get(server + "/")
    _css(browser, "#ww-describe")
    WebDriverWait(browser, 60).until(
        lambda d: d.find_element(By.XPATH, "//button[@role='tab' and normalize-space()='Library']")
    ).click()
    WebDriverWait(browser, 60).until(
        lambda d: track_id in d.find_element(By.CSS_SELECTOR, "#ww-library").text,
        message="the Library tab did not list the server's track",
    )
    assert piece.title in _css(browser, "#ww-library").text
    browser.find_element(By.XPATH, "//button[contains(., 'Advanced settings')]").click()
    count = _css(browser, "#ww-references input")
    count.send_keys(Keys.CONTROL, "a")
    count.send_keys("1", Keys.TAB)
    _css(browser, "#ww-text textarea").send_keys("a calm evening by the sea")
    _css(browser, "#ww-describe").click()
    caption = WebDriverWait(browser, 240).until(
        lambda d: (
            (c := d.find_element(By.CSS_SELECTOR, "#ww-caption textarea").get_attribute("value"))
            and piece.title in c
            and c
        ),
        message="the caption did not say what was borrowed from the library track",
    )
    assert "Borrowing" in caption, caption
    why = _css(browser, "#ww-why").text
    assert "reference" in why and piece.title in why, why
    assert (
        abs(float(_css(browser, "#ww-tempo input").get_attribute("value")) - piece.tempo)
        <= 0.02 * piece.tempo
    )
    assert not _toasts(browser)
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(tmp_path / "library-references.png"))
    # The described brief, references and all, generates.
    _css(browser, "#ww-generate").click()
    WebDriverWait(browser, 480, poll_frequency=1).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#ww-audio-out a[download]") or _toasts(d),
        message="no piece after Generate",
    )
    assert not _toasts(browser)


def test_search_the_library_and_pick_a_reference_track_in_the_browser(server, browser, tmp_path):
    """Two tracks in the server's library; the Library tab's search (a genre: the targeted track) ranks the
    one asked for first with why; "Use as the reference track" fills the Advanced settings' field, and
    Describe's brief names that track, not the other."""
    import httpx

    from library_media import render_labelled  # tests/ is on sys.path

    jazz, ambient = render_labelled(tmp_path / "music", 2, duration=6.0, seed=40)
    ids = {}
    for piece in (jazz, ambient):
        r = httpx.post(f"{server}/v1/library/tracks", files={"file": (piece.path.name, piece.path.read_bytes())},
                       timeout=240)  # fmt: skip
        assert r.status_code == 201, r.text
        ids[piece.title] = r.json()["track"]["id"]
    browser.get(server + "/")
    _css(browser, "#ww-describe")
    WebDriverWait(browser, 60).until(
        lambda d: d.find_element(By.XPATH, "//button[@role='tab' and normalize-space()='Library']")
    ).click()
    _css(browser, "#ww-search-words textarea").send_keys("calm slow pads")
    _css(browser, "#ww-search-genre textarea").send_keys("ambient")
    _css(browser, "#ww-search").click()
    WebDriverWait(browser, 120).until(
        lambda d: ids[ambient.title] in d.find_element(By.CSS_SELECTOR, "#ww-search-results").text,
        message="the search did not list the ambient track",
    )
    results = _css(browser, "#ww-search-results").text
    assert "targeted" in results and "genre" in results.lower(), results
    _css(browser, "#ww-use-reference").click()
    browser.find_element(By.XPATH, "//button[contains(., 'Advanced settings')]").click()
    WebDriverWait(browser, 30).until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, "#ww-reference-track textarea").get_attribute("value")
            == ids[ambient.title]
        ),
        message="picking the result did not fill the reference track",
    )
    _css(browser, "#ww-text textarea").send_keys("a bright morning")
    _css(browser, "#ww-describe").click()
    why = WebDriverWait(browser, 240).until(
        lambda d: (w := d.find_element(By.CSS_SELECTOR, "#ww-why").text) and ambient.title in w and w,
        message="the brief's provenance did not name the picked track",
    )
    assert jazz.title not in why, why
    assert not _toasts(browser)
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot("/tmp/library4-page.png")


def _choose(driver, selector: str, text: str) -> None:
    """Pick the option that reads ``text`` from the Gradio dropdown at ``selector`` (the list re-renders as
    it opens, so a found option may go stale: the wait tries again)."""

    def pick(d) -> bool:
        found = [o for o in d.find_elements(By.CSS_SELECTOR, "[role=option]") if o.text.strip() == text]
        if found:
            found[0].click()
        return bool(found)

    _css(driver, f"{selector} input").click()
    WebDriverWait(driver, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
        pick, message=f"no option {text!r} in {selector}"
    )


def test_flow_steps_and_solver_in_the_browser(server, browser, tmp_path):
    """The flow backend's Steps and Solver show only once that backend is chosen; with a (tiny random)
    MusicLDM pipeline folder as the model, Describe and Generate make a piece whose brief records them."""
    pytest.importorskip("diffusers")
    import httpx

    from flow_models import build_musicldm  # tests/ is on sys.path
    from tiny_models import build_clap

    pipeline = build_musicldm(tmp_path / "musicldm", build_clap(tmp_path / "clap"))
    browser.get(server + "/")
    _css(browser, "#ww-describe")
    browser.find_element(By.XPATH, "//button[contains(., 'Advanced settings')]").click()
    _css(browser, "#ww-backend")
    time.sleep(1.0)  # the accordion's fields have rendered
    assert (
        not browser.find_elements(By.CSS_SELECTOR, "#ww-flow-steps input")
        or not _css(browser, "#ww-flow-steps input").is_displayed()
    ), "the flow controls show before the flow backend is chosen"
    _choose(browser, "#ww-backend", "flow")
    steps = WebDriverWait(browser, 60, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: (e := d.find_elements(By.CSS_SELECTOR, "#ww-flow-steps input")) and e[0].is_displayed() and e[0],
        message="the flow controls did not show for the flow backend",
    )  # fmt: skip
    assert steps.get_attribute("value") == "32"
    steps.send_keys(Keys.CONTROL, "a")
    steps.send_keys("3", Keys.TAB)
    _choose(browser, "#ww-flow-solver", "midpoint")
    _css(browser, "#ww-model textarea, #ww-model input").send_keys(str(pipeline))
    _css(browser, "#ww-text textarea").send_keys("a calm evening by the sea")
    slider_number = _css(browser, "#ww-duration input[type=number]")
    slider_number.send_keys(Keys.CONTROL, "a")
    slider_number.send_keys("5", Keys.TAB)
    _css(browser, "#ww-describe").click()
    WebDriverWait(browser, 240).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#ww-caption textarea").get_attribute("value") or _toasts(d)
    )
    assert not _toasts(browser)
    _css(browser, "#ww-generate").click()
    WebDriverWait(browser, 480, poll_frequency=1).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#ww-audio-out a[download]") or _toasts(d),
        message="no piece after Generate",
    )
    assert not _toasts(browser), _toasts(browser)
    link = WebDriverWait(browser, 120).until(
        lambda d: next(
            (
                h
                for a in d.find_elements(By.CSS_SELECTOR, "#ww-files a")
                if (h := a.get_attribute("href") or "").endswith("brief.json")
            ),
            None,
        )  # fmt: skip
    )
    record = httpx.get(link, timeout=30).json()["generator"]
    assert record["backend"] == "flow"
    assert (record["options"]["steps"], record["options"]["solver"]) == (3, "midpoint")
    assert record["options"]["model_kind"] == "musicldm"
    browser.execute_script("document.querySelector('#ww-flow').scrollIntoView({block: 'center'})")
    browser.save_screenshot(str(tmp_path / "flow-controls.png"))
    # Back to another backend: the controls hide again.
    _choose(browser, "#ww-backend", "symbolic")
    WebDriverWait(browser, 60, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: not (e := d.find_elements(By.CSS_SELECTOR, "#ww-flow-steps input")) or not e[0].is_displayed(),
        message="the flow controls stayed for another backend",
    )  # fmt: skip
