"""Checks on the API's documentation pages shared by the API tests and the running-app tests: what
a page references, and that all of it is served by the same host (nothing from a CDN)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx

URL_ATTRIBUTES = {"src", "href", "spec-url"}  # <script src>, <link href>, ReDoc's <redoc spec-url>
SWAGGER_SPEC_URL = re.compile(r"""\burl:\s*['"]([^'"]+)['"]""")  # `SwaggerUIBundle({url: '...'})`
ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")
MIN_ASSET_BYTES = {".js": 100_000, ".css": 10_000, ".png": 500}  # real bundles, not an error page
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in URL_ATTRIBUTES and value]


def referenced_urls(html: str) -> list[str]:
    """Every URL a docs page loads: attributes, and the OpenAPI URL inside Swagger UI's script."""
    parser = _References()
    parser.feed(html)
    return parser.urls + SWAGGER_SPEC_URL.findall(html)


def check_docs_page(page_url: str) -> dict[str, httpx.Response]:
    """Fetch a docs page and everything it references; fail on anything not served by this host.

    Returns the answers by path, for the caller's own checks."""
    page = httpx.get(page_url, timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), page.text
    host = urlsplit(page_url).netloc
    assert "cdn" not in page.text.lower(), page.text
    off_host = [u for u in ABSOLUTE_URL.findall(page.text) if urlsplit(u).netloc != host]
    assert not off_host, f"the page names other hosts: {off_host}"
    answers: dict[str, httpx.Response] = {}
    with httpx.Client(timeout=30) as client:
        for url in referenced_urls(page.text):
            absolute = urlsplit(urljoin(page_url, url))
            assert absolute.netloc == host, url
            answer = client.get(absolute.geturl())
            assert answer.status_code == 200, f"{url}: {answer.status_code}"
            suffix = absolute.path[absolute.path.rfind(".") :]
            if suffix in MIN_ASSET_BYTES:
                assert len(answer.content) >= MIN_ASSET_BYTES[suffix], f"{url}: {len(answer.content)} bytes"
                assert CONTENT_TYPES[suffix] in answer.headers["content-type"], url
            answers[absolute.path] = answer
    return answers
