"""The interactive API documentation (Swagger UI and ReDoc), served entirely from this machine.

FastAPI's own docs pages load Swagger UI and ReDoc from a CDN and a favicon from its website, so
offline (no internet here, nor on many customer networks) the page stays blank. The project's
rule is that nothing downloads at run time, so the JavaScript, CSS and favicon come from the
installed `fastapi-offline` package (Swagger UI 5, ReDoc 2) and are served by the API itself.

Every URL the pages name is built from the request's `root_path`, the prefix the app is mounted
under (`/api/v1` by `app.py`), so the same app works at any mount point.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PACKAGE = ("fastapi_offline", "static")  # the package, and its folder holding the files
ASSETS_PATH = "/docs-assets"
DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"
# Swagger UI's one default that reaches out: the spec validator badge on validator.swagger.io.
SWAGGER_PARAMETERS = {"validatorUrl": None}
# ReDoc's sidebar always shows its maker's logo from their CDN; the browser must not even ask for it.
REDOC_POLICY = "img-src 'self' data:"


def _prefix(request: Request) -> str:
    """Where the app is mounted (`/api/v1`), so URLs in the page resolve on this host."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def install_docs(app: FastAPI) -> None:
    """Serve the docs assets and the Swagger UI and ReDoc pages on `app`.

    `app` must be built with `docs_url=None, redoc_url=None` (FastAPI's CDN pages) and a set
    `openapi_url`. A missing assets package fails here, at build time, not as a blank page."""
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("the docs need the OpenAPI document: build the app with an openapi_url")
    app.mount(ASSETS_PATH, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        prefix = _prefix(request)
        assets = prefix + ASSETS_PATH
        return get_swagger_ui_html(
            openapi_url=prefix + openapi_url,
            title=f"{app.title} (Swagger UI)",
            swagger_js_url=f"{assets}/{SWAGGER_JS}",
            swagger_css_url=f"{assets}/{SWAGGER_CSS}",
            swagger_favicon_url=f"{assets}/{FAVICON}",
            oauth2_redirect_url=None,  # Bearer tokens only: no OAuth2 flow to return to
            swagger_ui_parameters={**SWAGGER_PARAMETERS, **(app.swagger_ui_parameters or {})},
        )

    @app.get(REDOC_PATH, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        prefix = _prefix(request)
        assets = prefix + ASSETS_PATH
        page = get_redoc_html(
            openapi_url=prefix + openapi_url,
            title=f"{app.title} (ReDoc)",
            redoc_js_url=f"{assets}/{REDOC_JS}",
            redoc_favicon_url=f"{assets}/{FAVICON}",
            with_google_fonts=False,  # the fonts would come from Google; the page uses the system's
        )
        page.headers["Content-Security-Policy"] = REDOC_POLICY
        return page
