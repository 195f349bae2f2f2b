"""The API's browser pages, ``/docs`` (Swagger UI) and ``/redoc``, served from this machine.

FastAPI's own pages load their JavaScript and CSS from a CDN, so offline (the project's normal case) they
are blank. The ``fastapi-offline`` package, in the ``serve`` extra, ships those files; they are served
here at :data:`ASSETS_PATH` and FastAPI's page builders point at them (FastAPI's documented recipe for
self-hosting the docs' JavaScript and CSS). Where the package is missing (an older install) the pages fall
back to FastAPI's CDN addresses, as before.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
ASSETS_PATH = "/docs-assets"
ASSETS_PACKAGE = "fastapi_offline"
# The files the pages need, as the package names them.
SWAGGER_JS, SWAGGER_CSS, REDOC_JS, FAVICON = (
    "swagger-ui-bundle.js",
    "swagger-ui.css",
    "redoc.standalone.js",
    "favicon.png",
)


def assets_dir() -> Path | None:
    """The installed folder holding Swagger UI's and ReDoc's files, or None without the package."""
    spec = importlib.util.find_spec(ASSETS_PACKAGE)  # found, not imported: it imports nothing we need
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    needed = (SWAGGER_JS, SWAGGER_CSS, REDOC_JS, FAVICON)
    return folder if all((folder / name).is_file() for name in needed) else None


def mount_docs(app: FastAPI) -> None:
    """Add ``/docs`` and ``/redoc`` to ``app`` (made with ``docs_url=None, redoc_url=None``), with their
    assets served from the installed package. Call it before the page is mounted at ``/``."""
    folder = assets_dir()
    if folder is not None:
        app.mount(ASSETS_PATH, StaticFiles(directory=folder), name="docs-assets")

    def asset(request: Request, name: str) -> str | None:
        """A local URL for one file (behind a proxy's root path too); None means FastAPI's CDN default."""
        return f"{request.scope.get('root_path', '')}{ASSETS_PATH}/{name}" if folder is not None else None

    def openapi_url(request: Request) -> str:
        return f"{request.scope.get('root_path', '')}{app.openapi_url}"

    @app.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        urls = {
            "swagger_js_url": asset(request, SWAGGER_JS),
            "swagger_css_url": asset(request, SWAGGER_CSS),
            "swagger_favicon_url": asset(request, FAVICON),
        }
        given: dict[str, Any] = {k: v for k, v in urls.items() if v is not None}
        return get_swagger_ui_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} - API",
            swagger_ui_parameters=app.swagger_ui_parameters,
            **given,
        )

    @app.get(REDOC_PATH, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        urls = {"redoc_js_url": asset(request, REDOC_JS), "redoc_favicon_url": asset(request, FAVICON)}
        return get_redoc_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} - API reference",
            with_google_fonts=False,  # fonts from Google would be one more offline failure
            **{k: v for k, v in urls.items() if v is not None},
        )
