"""The web page (Gradio), mounted at / in the same app as the API.

The flow is the issue's: inputs -> Describe -> see and edit the brief (caption, attributes, sections,
and why each value was chosen) -> optionally refine it with an instruction -> Generate, which queues a
job in the same SQLite queue as the API and follows its progress -> listen, look, download. Every
call goes through :mod:`weavewave.serve.service`, so the page and the API cannot drift apart.
"""

from __future__ import annotations

import math
import re
import secrets
import time
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr

from weavewave.errors import BadInputError
from weavewave.serve import service
from weavewave.serve.jobs import out_dir
from weavewave.serve.settings import Settings
from weavewave.serve.store import ACTIVE, JobStore, QueueFull

AUTO = "auto"
POLL_S = 0.4
MAX_PAGE_TRACKS = 500  # the Library tab lists this many tracks at most (the API pages through more)
MAX_PAGE_REFERENCES = 8  # the page's cap: more references lend no more than the first few do
# The flow backend's sampling controls: its default step count and the range the page offers (the request
# checks the range again); more steps than this are for the API, not a slider.
FLOW_STEPS, MAX_PAGE_FLOW_STEPS = 32, 200
FLOW_SOLVERS = ("euler", "midpoint")
DOWNLOADS = ("music.wav", "music.mid", "stems.zip", "brief.json")
# The page's names for the request's fields, so an error says "Tempo: ..." as the form does.
PAGE_LABELS = {
    "text": "Text",
    "image": "Photo",
    "video": "Video",
    "audio": "Reference tune",
    "duration": "Duration",
    "tempo": "Tempo",
    "key": "Key",
    "genre": "Genre",
    "instruments": "Instruments",
    "seed": "Seed",
    "backend": "Backend",
    "stems": "Stems",
    "model": "Model",
    "adapter": "LoRA adapter",
    "steps": "Steps",
    "solver": "Solver",
    "steer": "Steer",
    "describer": "Describer",
    "describer_model": "Describer model",
    "reference_mode": "What to keep of the tune",
    "keep_audio": "Keep the video's own sound",
    "loop": "Seamless loop",
    "references": "References from your library",
    "reference_track": "References from your library",
    "brief": "Brief",
}

CSS = """
.gradio-container {max-width: 1360px !important; margin: auto;}
#ww-header h1 {margin-bottom: 0; font-size: 1.6rem;}
#ww-header p {margin-top: 2px; opacity: .75;}
.ww-step {font-weight: 600; opacity: .85; margin: 0 0 4px 0;}
#ww-generate, #ww-describe {min-height: 44px;}
footer {display: none !important;}
"""

HEADER = """<div id="ww-header"><h1>weavewave</h1>
<p>Drop a photo, a clip, a tune or a few words. See what it understood, edit it, then make the music.</p></div>"""


def _open(path: str | None) -> service.Upload | None:
    return service.Upload(open(path, "rb"), Path(path).name) if path else None


def _num(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def auto_number(field: str, value: Any, *, whole: bool = False) -> float | int | None:
    """An Advanced setting typed as text: empty (or "auto") means auto, never 0; else a finite number.

    The range is checked once, by :func:`service.check_request`; here only "is it a number" is.
    """
    text = "" if value is None else str(value).strip()
    if text.lower() in ("", AUTO):
        return None
    label = PAGE_LABELS[field]
    try:
        number = float(text)
    except ValueError:
        raise gr.Error(
            f"{label}: {text!r} is not a number; type one, or leave it empty for auto",
            title="Please check the inputs",
        ) from None
    if not math.isfinite(number) or (whole and number != int(number)):
        kind = "a whole number" if whole else "a finite number"
        raise gr.Error(f"{label}: {text} is not {kind}", title="Please check the inputs")
    return int(number) if whole else number


def _request(
    text: str,
    image: str | None,
    video: str | None,
    audio: str | None,
    duration: float,
    tempo: str | float | None,
    key: str,
    genre: str,
    instruments: str,
    seed: str | float | None,
    backend: str,
    **extra: Any,
) -> service.Submission:
    # A video or a tune sets the music's length (the page's slider is for text and photos); the brief's
    # own duration field is where to change it after Describe.
    controls = {
        "duration": None if (video or audio) else _num(duration),
        "tempo": auto_number("tempo", tempo),
        "key": (key or "").strip() or None,
        "genre": None if genre in (None, "", AUTO) else genre,
        "instruments": (instruments or "").strip() or None,
        "seed": auto_number("seed", seed, whole=True),
    }
    return service.Submission(
        text=text or None,
        image=[u for u in [_open(image)] if u],
        video=_open(video),
        audio=_open(audio),
        controls=controls,
        backend=backend or "symbolic",
        **extra,
    )


def _options(
    model: str,
    steer: str,
    describer: str,
    describer_model: str,
    reference_mode: str,
    keep_audio: bool,
    loop: bool,
    adapter: str = "",
) -> dict[str, Any]:
    """The Advanced settings' neural and restyle options, as the API takes them (empty ones left out)."""
    given = {
        "model": (model or "").strip(),
        "adapter": (adapter or "").strip(),
        "steer": steer,
        "describer": describer,
        "describer_model": (describer_model or "").strip(),
        "reference_mode": reference_mode,
        "keep_audio": bool(keep_audio),
        "loop": bool(loop),
    }
    return {k: v for k, v in given.items() if v not in (None, "", False)}


def flow_fields(backend: str | None, steps: Any, solver: str | None) -> dict[str, Any]:
    """The flow backend's steps and solver as request fields, sent only with that backend (they are its
    options, and the request refuses them for another)."""
    if backend != "flow":
        return {}
    count = auto_number("steps", steps, whole=True)
    return {"steps": FLOW_STEPS if count is None else count, "solver": solver or "euler"}


def library_fields(references: Any) -> dict[str, Any]:
    """The "References from your library" number as request fields: 0 or empty is none."""
    count = auto_number("references", references, whole=True)
    return {"references": count} if count else {}


LIBRARY_HEADERS = ["title", "artist", "genre", "BPM", "key", "s", "id"]


def library_rows(settings: Settings) -> list[list[Any]]:
    """The server library's tracks for the Library tab, by title; none when it is empty or not installed."""
    from weavewave.errors import MissingDependencyError
    from weavewave.library.store import MARKER_NAME, open_library

    if not (settings.library_dir / MARKER_NAME).is_file():
        return []
    try:
        rows = open_library(settings.library_dir, what="server library").rows(limit=MAX_PAGE_TRACKS)
    except MissingDependencyError:  # the 'library' extra (lancedb) is not installed on this server
        return []
    rows.sort(key=lambda r: (r["title"].lower(), r["id"]))
    return [[r["title"], r["artist"], r["genre"], round(r["tempo_bpm"]), r["key"], round(r["duration_s"]), r["id"]]
            for r in rows]  # fmt: skip


SEARCH_HEADERS = ["rank", "track", "why", "title", "genre", "BPM", "id"]


def library_search(settings: Settings, words: str, genre: str, tempo: str) -> tuple[list[list[Any]], Any]:
    """The Library tab's search: ranked rows (broad or targeted, and why) and the choices of the pick list,
    through the same retrieval as ``GET /v1/library/search``."""
    from weavewave.library.store import MARKER_NAME, open_library
    from weavewave.serve.library import search_results

    if not (settings.library_dir / MARKER_NAME).is_file():
        return [], gr.update(choices=[], value=None)
    try:
        lib = open_library(settings.library_dir, what="server library")
        hits = search_results(lib, q=(words or "").strip() or None, genre=(genre or "").strip() or None,
                              tempo=(tempo or "").strip() or None)  # fmt: skip
    except BadInputError as exc:
        raise _error(exc) from None
    rows = [
        [h["rank"], h["track"], h["why"], h["title"], h["genre"], round(h["tempo_bpm"]), h["id"]]
        for h in hits
    ]
    choices = [(f"{h['rank']}. {h['title']} ({h['id']})", h["id"]) for h in hits]
    return rows, gr.update(choices=choices, value=choices[0][1] if choices else None)


def reference_track_fields(reference_track: Any) -> dict[str, Any]:
    """The Advanced settings' "Reference track" id as request fields: empty is none."""
    given = (reference_track or "").strip()
    return {"reference_track": [given]} if given else {}


def _close(req: service.Submission) -> None:
    for up in [*req.image, req.video, req.audio]:
        if up is not None:
            up.stream.close()


def page_message(exc: BadInputError) -> str:
    """One line naming the field as the page shows it: "Tempo: 20 BPM is out of range: use 30 to 300 BPM"."""
    if not isinstance(exc, service.FieldError):
        return str(exc)
    reason = exc.reason
    # The service's reasons often repeat the field's own name ("tempo 20 BPM ..."): say it once.
    if reason.lower().startswith(exc.field.lower() + " "):
        reason = reason[len(exc.field) + 1 :]
    return f"{PAGE_LABELS.get(exc.field, exc.field)}: {reason}"


def _error(exc: BadInputError) -> gr.Error:
    return gr.Error(page_message(exc), title="Please check the inputs")


# --- the brief as editable fields ------------------------------------------------------------------
def brief_fields(brief: dict[str, Any]) -> list[Any]:
    """caption, tempo, key, genre, duration, instruments, energy, sections rows, why rows, JSON text."""
    key = f"{brief['key']['tonic']} {brief['key']['mode']}"
    sections = [
        [s["label"], round(s["start_s"], 2), round(s["end_s"], 2), round(s["energy"], 2), s["caption"]]
        for s in brief["sections"]
    ]
    why = [[name, p["source"], p["reason"]] for name, p in brief["provenance"].items()]
    import json

    return [
        brief["caption"],
        brief["tempo_bpm"],
        key,
        brief["genre"],
        brief["duration_s"],
        ", ".join(brief["instruments"]),
        brief["energy"],
        sections,
        why,
        json.dumps(brief, indent=2),
    ]


def _page_words(brief: dict[str, Any]) -> dict[str, Any]:
    """Provenance in the page's words: what the user set here was not "set with --tempo"."""
    for prov in brief["provenance"].values():
        if prov["source"] == "user":
            prov["reason"] = re.sub(r"set with --[a-z-]+", "set in the web page", prov["reason"])
    return brief


def user_caption(brief: dict[str, Any]) -> bool:
    """Whether the brief's caption is the user's own text (then the page keeps it as it is)."""
    return brief.get("provenance", {}).get("caption", {}).get("source") == "user"


def follow_caption(brief: dict[str, Any], typed: str | None) -> dict[str, Any]:
    """The page's caption rule: the caption follows the fields until the user writes one of their own.

    ``brief`` comes from the library with its caption written from its fields (``api.describe`` re-derives
    it after every control it applies). ``typed`` is the user's own caption, or None when they have not
    written one: then the derived caption stands. An emptied caption follows the fields again. This is the
    one place the page decides the caption; the library's re-derivation of derived text replaces the
    fallback below once it exists.
    """
    from weavewave.bridge import write_caption
    from weavewave.brief import MusicBrief, Provenance

    text = (typed or "").strip()
    if text:
        brief["caption"] = text
        brief["provenance"]["caption"] = Provenance(
            source="user", reason="edited in the web page"
        ).model_dump()
    elif user_caption(brief):
        # The user emptied a caption that was theirs: write it from the fields again.
        brief["caption"] = write_caption(MusicBrief.from_dict(brief, origin="edited brief"))
        brief["provenance"]["caption"] = Provenance(
            source="default", reason="written from the final attributes"
        ).model_dump()
    return brief


def _section_rows(sections: Any) -> list[list[Any]]:
    return sections.values.tolist() if hasattr(sections, "values") else list(sections or [])


def edited_brief(
    state: dict[str, Any] | None,
    caption: str,
    tempo: float | None,
    key: str,
    genre: str,
    duration: float | None,
    instruments: str,
    energy: float | None,
    sections: Any,
    shown_caption: str | None = None,
) -> dict[str, Any]:
    """The brief the page shows: ``state`` (the last brief Describe, Refine or Generate returned) with the
    fields' edits. Changed attributes go through ``api.describe(brief=...)`` as controls, so sections and
    provenance follow and say "user"; energy and the section rows' wording are set directly; the caption
    follows :func:`follow_caption`: it is the user's when ``caption`` differs from ``shown_caption``, the
    caption the page last wrote into the box (None: ``state``'s), or was theirs already. Both come from the
    same page snapshot, so a derived caption still on its way to the page is never taken for typed text.
    Computed from ``state`` each time, so edits never pile up or go stale.
    """
    from weavewave import api
    from weavewave.brief import MusicBrief, Provenance

    if not state:
        raise gr.Error("Describe first: the brief appears here, then you can edit it and generate.")
    old = MusicBrief.from_dict(state)
    changed: dict[str, Any] = {}
    if tempo is not None and abs(float(tempo) - old.tempo_bpm) > 1e-6:
        changed["tempo"] = float(tempo)
    if key and key.strip().lower() != str(old.key).lower():
        changed["key"] = key
    if genre and genre != old.genre:
        changed["genre"] = genre
    if duration is not None and abs(float(duration) - old.duration_s) > 1e-6:
        changed["duration"] = float(duration)
    names = [i.strip() for i in (instruments or "").split(",") if i.strip()]
    if names and names != old.instruments:
        changed["instruments"] = names
    try:
        # The service takes instruments as the form sends them, one comma-separated string.
        as_sent = changed | ({"instruments": ", ".join(names)} if "instruments" in changed else {})
        service.check_request(service.Submission(brief=old.to_dict(), controls=as_sent))
        brief = api.describe(brief=old, **changed)
    except BadInputError as exc:
        raise _error(exc) from None
    data = brief.to_dict()
    _page_words(data)
    # A row's own edits (label, energy, caption) stay while its times are the brief's (a new length re-plans
    # them); a caption the user did not touch is the re-derived one, so it follows a genre or key edit.
    shown_rows = [[x["label"], x["energy"], x["caption"]] for x in state["sections"]]
    for i, (section, row) in enumerate(zip(data["sections"], _section_rows(sections), strict=False)):
        if (
            abs(float(row[1]) - round(section["start_s"], 2)) < 0.011
            and abs(float(row[2]) - round(section["end_s"], 2)) < 0.011
        ):
            was = shown_rows[i] if i < len(shown_rows) else [None, None, None]
            section["label"], section["energy"] = str(row[0]), float(row[3])
            if str(row[4]).strip() != str(was[2] or "").strip():
                section["caption"] = str(row[4])
    if energy is not None and abs(float(energy) - old.energy) > 1e-6:
        data["energy"] = float(energy)
        data["provenance"]["energy"] = Provenance(source="user", reason="edited in the web page").model_dump()
    typed = (caption or "").strip()
    shown = (old.caption if shown_caption is None else shown_caption).strip()
    follow_caption(data, caption if typed != shown or user_caption(state) else None)
    try:
        return MusicBrief.from_dict(data, origin="edited brief").to_dict()
    except BadInputError as exc:
        raise _error(exc) from None


class PageHandlers:
    """What the page's buttons do. ``store`` is the server's job store: generate jobs share the API's
    queue; ``cache`` the server's model cache, for describer models."""

    def __init__(self, settings: Settings, store: JobStore, cache: Any = None) -> None:
        self.settings, self.store, self.cache = settings, store, cache

    def describe(
        self,
        text,
        image,
        video,
        audio,
        duration,
        tempo,
        key,
        genre,
        instruments,
        seed,
        backend,
        model,
        steer,
        describer,
        describer_model,
        reference_mode,
        keep_audio,
        loop,
        references=0,
        steps=FLOW_STEPS,
        solver="euler",
        reference_track="",
        adapter="",
    ):
        # The tune tab's reference mode and the video tab's keep-audio mean something only with their input.
        options = _options(
            model,
            steer,
            describer,
            describer_model,
            reference_mode if audio else None,
            keep_audio and bool(video),
            loop,
            adapter,
        )
        req = _request(
            text,
            image,
            video,
            audio,
            duration,
            tempo,
            key,
            genre,
            instruments,
            seed,
            backend,
            options=options,
            fields=library_fields(references)
            | reference_track_fields(reference_track)
            | flow_fields(backend, steps, solver),
        )
        try:
            brief = _page_words(service.describe(req, self.settings, self.cache))
        except BadInputError as exc:
            raise _error(exc) from None
        finally:
            _close(req)
        return [
            brief,
            *brief_fields(brief),
            brief["caption"],
            gr.update(interactive=True),
            gr.update(interactive=True),
            "Brief ready: edit anything on the right, refine it with an instruction, then **Generate**.",
        ]

    def refine(
        self,
        state,
        caption,
        tempo,
        key,
        genre,
        duration,
        instruments,
        energy,
        sections,
        shown_caption,
        instruction,
    ):
        from weavewave.brief import MusicBrief

        if not (instruction or "").strip():
            raise gr.Error("Write an instruction first, e.g. 'warmer, add strings'.")
        brief = edited_brief(
            state, caption, tempo, key, genre, duration, instruments, energy, sections, shown_caption
        )
        try:
            refined = service.refine_brief(MusicBrief.from_dict(brief), instruction.strip()).to_dict()
        except BadInputError as exc:
            raise _error(exc) from None
        return [
            refined,
            *brief_fields(refined),
            refined["caption"],
            f"Refined with “{instruction.strip()}”.",
        ]

    def apply_edits(
        self, state, caption, tempo, key, genre, duration, instruments, energy, sections, shown_caption
    ):
        """An edited field, applied as soon as the user leaves it: the caption (unless it is the user's),
        sections, provenance and JSON follow. The typed fields themselves are not rewritten, so typing
        elsewhere is never undone. ``state`` stays the last brief the server made: the shown brief is
        always that brief plus the fields, so a slow update can never be applied on top of a newer one."""
        if not state:
            return [gr.update()] * 5
        brief = edited_brief(
            state, caption, tempo, key, genre, duration, instruments, energy, sections, shown_caption
        )
        shown = brief_fields(brief)
        # The user's own caption is left as they typed it; a derived one is shown (an emptied one too).
        caption_update = gr.update() if user_caption(brief) else shown[0]
        return [caption_update, *shown[7:], caption_update]

    def generate(
        self,
        state,
        caption,
        tempo,
        key,
        genre,
        duration,
        instruments,
        energy,
        sections,
        shown_caption,
        backend,
        stems,
        video,
        history,
        model,
        steer,
        keep_audio,
        loop,
        steps=FLOW_STEPS,
        solver="euler",
        adapter="",
        progress=gr.Progress(),  # noqa: B008 (how Gradio asks for it)
    ):
        brief = edited_brief(
            state, caption, tempo, key, genre, duration, instruments, energy, sections, shown_caption
        )
        backend = backend or "symbolic"
        # The brief was described already: only what makes the audio still applies (the describer and the
        # reference mode did their work in Describe). The musicgen backend makes no stems.
        options = _options(model, steer, "analytic", "", None, keep_audio and bool(video), loop, adapter)
        req = service.Submission(
            brief=brief,
            backend=backend,
            stems=bool(stems) and backend == "symbolic",
            video=_open(video),
            options=options,
            fields=flow_fields(backend, steps, solver),
        )
        try:
            job = service.submit(req, self.store, self.settings)
        except BadInputError as exc:
            raise _error(exc) from None
        except QueueFull as exc:
            raise gr.Error(str(exc), title="The server is busy") from None
        finally:
            _close(req)
        history = [job.id, *(history or [])]
        progress(0.0, desc="queued")
        while True:
            current = self.store.get(job.id)
            if current is None or current.status not in ACTIVE:
                break
            progress(current.progress, desc=current.message)
            time.sleep(POLL_S)
        assert current is not None
        if current.status != "succeeded":
            raise gr.Error(
                current.error or f"the job was {current.status}", title="Generation did not finish"
            )
        final = current.brief or brief  # the brief the piece was made from, caption refreshed
        return [
            *self._outputs(current.id, video),
            history,
            self._history_rows(history),
            gr.update(choices=self._history_choices(history), value=current.id),
            final,
            *brief_fields(final),
            final["caption"],
        ]

    def open_job(self, job_id, history):
        if not job_id:
            return [gr.update()] * 5
        return self._outputs(job_id, None)

    def _outputs(self, job_id: str, video: str | None) -> list[Any]:
        job = self.store.get(job_id)
        if job is None:
            raise gr.Error(f"job {job_id} is gone (retention removes old jobs)")
        folder = out_dir(self.settings, job_id)
        files = [str(folder / n) for n in DOWNLOADS if n in job.files]
        has_video = "video.mp4" in job.files
        brief = job.brief or {}
        summary = (
            f"**{brief.get('genre', '')}**, {brief.get('key', {}).get('tonic', '')} "
            f"{brief.get('key', {}).get('mode', '')}, {brief.get('tempo_bpm', 0):g} BPM, "
            f"{brief.get('duration_s', 0):g} s · job `{job_id[:8]}`"
        )
        return [
            str(folder / "music.wav"),
            str(folder / "music.png") if "music.png" in job.files else None,
            gr.update(value=str(folder / "video.mp4") if has_video else None, visible=has_video),
            files,
            summary,
        ]

    def _history_rows(self, history: list[str]) -> list[list[Any]]:
        rows = []
        for job_id in history:
            job = self.store.get(job_id)
            if job is None:
                continue
            brief = job.brief or {}
            when = datetime.fromtimestamp(job.created_at).strftime("%H:%M:%S")
            rows.append([when, job.status, brief.get("caption", "")[:90], job_id[:8]])
        return rows

    def _history_choices(self, history: list[str]) -> list[tuple[str, str]]:
        out = []
        for job_id in history:
            job = self.store.get(job_id)
            if job is not None and job.status == "succeeded":
                brief = job.brief or {}
                out.append(
                    (f"{job_id[:8]} · {brief.get('genre', '')} {brief.get('tempo_bpm', 0):g} BPM", job_id)
                )
        return out


def _inputs_column(genres: Collection[str], backends: Sequence[str]) -> SimpleNamespace:
    """Column 1: what the music should be about, and the Advanced settings."""
    with gr.Column(scale=5, min_width=360):
        gr.Markdown("1 · What should the music be about?", elem_classes="ww-step")
        text = gr.Textbox(
            label="Text",
            lines=2,
            elem_id="ww-text",
            placeholder="A rainy night in Tokyo, neon on wet streets, lonely and calm…",
        )
        with gr.Tabs():
            with gr.Tab("Photo"):
                image = gr.Image(
                    label="Photo",
                    type="filepath",
                    height=190,
                    elem_id="ww-image",
                    sources=["upload", "clipboard"],
                )
            with gr.Tab("Video"):
                video = gr.Video(
                    label="Video (gets the new soundtrack)",
                    height=190,
                    elem_id="ww-video",
                    sources=["upload"],
                )
                keep_audio = gr.Checkbox(
                    False, label="Keep the video's own sound under the music", elem_id="ww-keep-audio"
                )
            with gr.Tab("Reference tune"):
                audio = gr.Audio(
                    label="Reference tune", type="filepath", elem_id="ww-audio", sources=["upload"]
                )
                reference_mode = gr.Radio(
                    [
                        ("melody: keep the tune", "melody"),
                        ("harmony: keep the chords", "harmony"),
                        ("style: keep only the feel", "style"),
                    ],
                    value="melody",
                    label="What to keep of the tune",
                    elem_id="ww-reference-mode",
                )
            with gr.Tab("Library"):
                # The server's own library (tracks are added through POST /v1/library/tracks); the
                # Advanced settings' "References from your library" takes the closest of these.
                library = gr.Dataframe(
                    headers=LIBRARY_HEADERS,
                    type="array",
                    interactive=False,
                    wrap=True,
                    max_height=190,
                    label="The server's library",
                    elem_id="ww-library",
                )
                library_refresh = gr.Button("Refresh", size="sm", elem_id="ww-library-refresh")
                # Dual-track search: words give the broad track; a genre or tempo range the targeted one.
                with gr.Row():
                    search_words = gr.Textbox(
                        label="Search the library",
                        placeholder="calm rainy evening",
                        elem_id="ww-search-words",
                    )
                    search_genre = gr.Textbox(label="Genre", placeholder="jazz", elem_id="ww-search-genre")
                    search_tempo = gr.Textbox(
                        label="Tempo range", placeholder="90-120", elem_id="ww-search-tempo"
                    )
                search_btn = gr.Button("Search", size="sm", elem_id="ww-search")
                search_results = gr.Dataframe(
                    headers=SEARCH_HEADERS,
                    interactive=False,
                    label="Results (broad: mood and theme; targeted: what you named)",
                    elem_id="ww-search-results",
                )
                with gr.Row():
                    search_pick = gr.Dropdown([], label="Result", elem_id="ww-search-pick")
                    use_reference = gr.Button(
                        "Use as the reference track", size="sm", elem_id="ww-use-reference"
                    )
        with gr.Row():
            duration = gr.Slider(
                5,
                180,
                value=30,
                step=1,
                label="Duration (s)",
                elem_id="ww-duration",
                info="a video or tune sets its own length",
            )
            genre = gr.Dropdown([AUTO, *genres], value=AUTO, label="Genre", elem_id="ww-genre")
        with gr.Accordion("Advanced settings", open=False):
            with gr.Row():
                # Text, not gr.Number: a Number shows 0 once the accordion opens, and 0 is no tempo.
                tempo = gr.Textbox(
                    label="Tempo (BPM, empty: auto)",
                    placeholder="auto, e.g. 96",
                    elem_id="ww-adv-tempo",
                )
                key = gr.Textbox(label="Key (empty: auto)", placeholder="F# minor, Bb major, A dorian")
            instruments = gr.Textbox(label="Instruments (empty: auto)", placeholder="piano, strings, drums")
            with gr.Row():
                seed = gr.Textbox(
                    label="Seed (empty: from the inputs)",
                    placeholder="auto, e.g. 7",
                    elem_id="ww-seed",
                )
                loop = gr.Checkbox(
                    False,
                    label="Seamless loop (the end leads back into the start)",
                    elem_id="ww-loop",
                )
            with gr.Row():
                backend = gr.Dropdown(
                    list(backends), value=backends[0], label="Backend", elem_id="ww-backend"
                )
                steer = gr.Dropdown(
                    ["none", "symbolic"], value="none", elem_id="ww-steer", label="Steer (musicgen)"
                )
            model = gr.Textbox(
                label="Model (musicgen or flow backend): hub id or folder on the server",
                placeholder="facebook/musicgen-small; flow: a trained flow model or a MusicLDM pipeline",
                elem_id="ww-model",
            )
            adapter = gr.Textbox(
                label="LoRA adapter (musicgen): folder on the server",
                placeholder="made by `weavewave train musicgen`, applied to the model above",
                elem_id="ww-adapter",
            )
            # Shown only with the flow backend (see build_ui): they are its options.
            with gr.Row(visible=False, elem_id="ww-flow") as flow_row:
                steps = gr.Number(
                    FLOW_STEPS,
                    precision=0,
                    minimum=1,
                    maximum=MAX_PAGE_FLOW_STEPS,
                    label="Steps (flow)",
                    info="solver steps: more is slower and smoother",
                    elem_id="ww-flow-steps",
                )
                solver = gr.Dropdown(
                    list(FLOW_SOLVERS),
                    value="euler",
                    label="Solver (flow)",
                    info="euler: one model call a step; midpoint: two, more exact",
                    elem_id="ww-flow-solver",
                )
            with gr.Row():
                describer = gr.Dropdown(
                    ["analytic", "mllm"],
                    value="analytic",
                    elem_id="ww-describer",
                    label="Describer (mllm: also ask a multimodal model)",
                )
                describer_model = gr.Textbox(
                    label="Describer model (mllm): hub id or folder",
                    placeholder="Qwen/Qwen2.5-VL-3B-Instruct",
                    elem_id="ww-describer-model",
                )
            stems = gr.Checkbox(True, label="Also render stems (one audio file per part; symbolic backend)")
            # Tracks of the server's own library (added through the API) that lend tempo, key and form.
            references = gr.Number(
                0,
                precision=0,
                minimum=0,
                maximum=MAX_PAGE_REFERENCES,
                label="References from your library (0: none)",
                info="the closest tracks of the server's library lend tempo, key, chords and form",
                elem_id="ww-references",
            )
            # One given track of the library (picked on the Library tab, or typed): the brief names it.
            reference_track = gr.Textbox(
                label="Reference track (library id; empty: none)",
                info="pick one on the Library tab's search; clear it to drop it",
                elem_id="ww-reference-track",
            )
        describe_btn = gr.Button("Describe", variant="secondary", elem_id="ww-describe")
    return SimpleNamespace(
        text=text,
        image=image,
        video=video,
        keep_audio=keep_audio,
        audio=audio,
        reference_mode=reference_mode,
        duration=duration,
        genre=genre,
        tempo=tempo,
        key=key,
        instruments=instruments,
        seed=seed,
        loop=loop,
        backend=backend,
        steer=steer,
        model=model,
        flow_row=flow_row,
        steps=steps,
        solver=solver,
        describer=describer,
        describer_model=describer_model,
        adapter=adapter,
        stems=stems,
        references=references,
        library=library,
        library_refresh=library_refresh,
        search_words=search_words,
        search_genre=search_genre,
        search_tempo=search_tempo,
        search_btn=search_btn,
        search_results=search_results,
        search_pick=search_pick,
        use_reference=use_reference,
        reference_track=reference_track,
        describe_btn=describe_btn,
    )


def _brief_column(genres: Collection[str]) -> SimpleNamespace:
    """Column 2: the brief as editable fields, Refine and Generate."""
    with gr.Column(scale=7, min_width=420):
        gr.Markdown("2 · The brief: what weavewave understood (edit anything)", elem_classes="ww-step")
        b_caption = gr.Textbox(
            label="Caption",
            lines=2,
            elem_id="ww-caption",
            interactive=True,
            info="follows the fields below until you write your own; empty it to follow them again",
        )
        # The caption the server last wrote into the box, sent back with every edit: text that differs
        # from it was typed by the user (see edited_brief).
        caption_shown = gr.Textbox(visible=False, elem_id="ww-caption-shown")
        with gr.Row():
            b_tempo = gr.Number(
                None,
                label="Tempo (BPM)",
                placeholder="—",
                elem_id="ww-tempo",
            )
            b_key = gr.Textbox(label="Key", elem_id="ww-key")
            b_genre = gr.Dropdown(list(genres), value=None, label="Genre", elem_id="ww-bgenre")
            b_duration = gr.Number(
                None,
                label="Duration (s)",
                placeholder="—",
                elem_id="ww-bduration",
            )
        with gr.Row():
            b_instruments = gr.Textbox(label="Instruments", elem_id="ww-instruments", scale=3)
            b_energy = gr.Slider(0, 1, value=0.5, step=0.01, label="Energy", scale=1)
        with gr.Tabs():
            with gr.Tab("Why these values"):
                b_why = gr.Dataframe(
                    headers=["attribute", "from", "why"],
                    type="array",
                    interactive=False,
                    wrap=True,
                    max_height=230,
                    column_widths=["18%", "12%", "70%"],
                    elem_id="ww-why",
                )
            with gr.Tab("Sections"):
                b_sections = gr.Dataframe(
                    headers=["label", "start s", "end s", "energy", "caption"],
                    type="array",
                    interactive=True,
                    wrap=True,
                    max_height=230,
                    static_columns=[1, 2],
                    column_widths=["10%", "10%", "10%", "10%", "60%"],
                )
            with gr.Tab("brief.json"):
                b_json = gr.Code(language="json", interactive=False, max_lines=14)
        with gr.Row():
            instruction = gr.Textbox(
                label="Refine with an instruction", scale=4, placeholder="warmer, add strings, slower"
            )
            refine_btn = gr.Button("Refine", interactive=False, scale=1, elem_id="ww-refine")
        generate_btn = gr.Button("Generate", variant="primary", interactive=False, elem_id="ww-generate")
        status = gr.Markdown("Describe your inputs first: the brief will appear here.", elem_id="ww-status")
    return SimpleNamespace(
        b_caption=b_caption,
        caption_shown=caption_shown,
        b_tempo=b_tempo,
        b_key=b_key,
        b_genre=b_genre,
        b_duration=b_duration,
        b_instruments=b_instruments,
        b_energy=b_energy,
        b_why=b_why,
        b_sections=b_sections,
        b_json=b_json,
        instruction=instruction,
        refine_btn=refine_btn,
        generate_btn=generate_btn,
        status=status,
    )


def _music_section() -> SimpleNamespace:
    """Row 3: the music (player, downloads, piano roll, video) and the session history."""
    gr.Markdown("3 · The music", elem_classes="ww-step")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=360):
            out_audio = gr.Audio(label="Listen", type="filepath", interactive=False, elem_id="ww-audio-out")
            out_summary = gr.Markdown("")
            out_files = gr.File(
                label="Downloads: WAV, MIDI, stems, brief.json",
                file_count="multiple",
                interactive=False,
                elem_id="ww-files",
            )
        with gr.Column(scale=7, min_width=420):
            out_picture = gr.Image(
                label="Piano roll",
                type="filepath",
                interactive=False,
                height=260,
                elem_id="ww-picture",
                buttons=["download", "fullscreen"],
            )
            out_video = gr.Video(
                label="Your video with its new soundtrack",
                visible=False,
                interactive=False,
                elem_id="ww-video-out",
            )
            with gr.Accordion("Session history", open=True):
                history_table = gr.Dataframe(
                    headers=["time", "status", "caption", "job"],
                    type="array",
                    interactive=False,
                    wrap=True,
                    max_height=200,
                    column_widths=["15%", "15%", "55%", "15%"],
                )
                history_pick = gr.Dropdown([], label="Open an earlier piece", elem_id="ww-history")

    return SimpleNamespace(
        out_audio=out_audio,
        out_summary=out_summary,
        out_files=out_files,
        out_picture=out_picture,
        out_video=out_video,
        history_table=history_table,
        history_pick=history_pick,
    )


def build_ui(settings: Settings, store: JobStore, cache: Any = None) -> gr.Blocks:
    """The page: the inputs, the brief to edit and the music, wired to :class:`PageHandlers`."""
    from weavewave.generators import BACKENDS
    from weavewave.music.styles import GENRES

    on = PageHandlers(settings, store, cache)
    with gr.Blocks(title="weavewave", analytics_enabled=False) as page:
        state = gr.State(None)
        history = gr.State([])
        gr.HTML(HEADER)
        with gr.Row(equal_height=False):
            i = _inputs_column(GENRES, BACKENDS)
            b = _brief_column(GENRES)
        m = _music_section()
        fields = [
            b.b_caption,
            b.b_tempo,
            b.b_key,
            b.b_genre,
            b.b_duration,
            b.b_instruments,
            b.b_energy,
            b.b_sections,
            b.b_why,
            b.b_json,
        ]
        edits = [
            state,
            b.b_caption,
            b.b_tempo,
            b.b_key,
            b.b_genre,
            b.b_duration,
            b.b_instruments,
            b.b_energy,
            b.b_sections,
            b.caption_shown,
        ]
        outputs = [m.out_audio, m.out_picture, m.out_video, m.out_files, m.out_summary]
        neural = [i.model, i.steer, i.describer, i.describer_model, i.reference_mode, i.keep_audio, i.loop,
                  i.references, i.steps, i.solver, i.reference_track, i.adapter]  # fmt: skip
        # Progress shows in one place per action (the status line, or the player the piece will play in),
        # not as a bar over each of the dozen fields an action fills.
        i.describe_btn.click(
            on.describe,
            [
                i.text,
                i.image,
                i.video,
                i.audio,
                i.duration,
                i.tempo,
                i.key,
                i.genre,
                i.instruments,
                i.seed,
                i.backend,
                *neural,
            ],
            [state, *fields, b.caption_shown, b.generate_btn, b.refine_btn, b.status],
            show_progress="minimal",
            show_progress_on=b.status,
        )
        b.refine_btn.click(
            on.refine,
            [*edits, b.instruction],
            [state, *fields, b.caption_shown, b.status],
            show_progress="minimal",
            show_progress_on=b.status,
        )
        derived = [b.b_caption, b.b_sections, b.b_why, b.b_json, b.caption_shown]
        for typed in (b.b_caption, b.b_tempo, b.b_key, b.b_duration, b.b_instruments):
            typed.blur(on.apply_edits, edits, derived, show_progress="hidden")
        # User input only, not the updates that Describe and Refine make.
        b.b_genre.input(on.apply_edits, edits, derived, show_progress="hidden")
        b.b_energy.release(on.apply_edits, edits, derived, show_progress="hidden")
        b.generate_btn.click(
            on.generate,
            [
                *edits,
                i.backend,
                i.stems,
                i.video,
                history,
                i.model,
                i.steer,
                i.keep_audio,
                i.loop,
                i.steps,
                i.solver,
                i.adapter,
            ],  # fmt: skip
            [*outputs, history, m.history_table, m.history_pick, state, *fields, b.caption_shown],
            show_progress="full",
            show_progress_on=m.out_audio,
        )
        m.history_pick.change(on.open_job, [m.history_pick, history], outputs)
        i.backend.change(
            lambda b: gr.update(visible=b == "flow"), i.backend, i.flow_row, show_progress="hidden"
        )
        i.library_refresh.click(lambda: library_rows(settings), None, i.library, show_progress="hidden")
        page.load(lambda: library_rows(settings), None, i.library, show_progress="hidden")
        i.search_btn.click(
            lambda w, g, t: library_search(settings, w, g, t),
            [i.search_words, i.search_genre, i.search_tempo],
            [i.search_results, i.search_pick],
            show_progress="hidden",
        )
        i.use_reference.click(
            lambda pick: pick or "", i.search_pick, i.reference_track, show_progress="hidden"
        )
    return page


def mount_ui(app: Any, settings: Settings, store: JobStore, cache: Any = None) -> None:
    """Mount the page at /; with a token, the page asks for it as the password."""
    auth = None
    if settings.token:
        token = settings.token

        def auth(user: str, password: str) -> bool:
            return secrets.compare_digest(password.encode(), token.encode())

    gr.mount_gradio_app(
        app,
        build_ui(settings, store, cache),
        path="/",
        allowed_paths=[str(settings.jobs_dir)],
        auth=auth,
        auth_message="Enter any user name and the server's token as the password.",
        theme=gr.themes.Soft(primary_hue="indigo", neutral_hue="slate"),
        css=CSS,
        footer_links=["api"],
    )
