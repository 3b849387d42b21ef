"""`GET /playground` (the page) and `GET /playground/static/{path}` (its assets), from the package's `static/`.

No key and no rate limit: the page holds no data, it asks for the key and sends it with every `/v1` call. Every
response carries a Content-Security-Policy that allows scripts, styles and calls from this origin only, so a
message that slipped into the page as HTML could still run nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter, Request, Response

from orchestrator.api.errors import error_response

STATIC = Path(__file__).parent / "static"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    # The assets are small and change with each release: a browser asks again each time and gets a 304.
    "cache-control": "no-cache",
}
#: The only kinds of file served; anything else under static/ is a 404, as a missing file is.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".woff2": "font/woff2",
}

router = APIRouter(include_in_schema=False)


def resolve(root: Path, relative: str) -> Path | None:
    """The file `relative` names under `root`, or None when it is missing, of a kind not served, or outside `root`
    (`..`, an absolute path, a symlink leading out)."""
    base = root.resolve()
    try:
        path = (base / relative).resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte
        return None
    if not path.is_relative_to(base) or not path.is_file() or path.suffix not in CONTENT_TYPES:
        return None
    return path


def _not_found(request: Request) -> Response:
    response = error_response(404, f"Invalid URL ({request.method} {request.url.path})")
    response.headers.update(HEADERS)
    return response


def _file(request: Request, path: Path | None) -> Response:
    if path is None:
        return _not_found(request)
    body = path.read_bytes()
    etag = f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
    headers = {**HEADERS, "etag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    content = b"" if request.method == "HEAD" else body
    response = Response(content, media_type=CONTENT_TYPES[path.suffix], headers=headers)
    if request.method == "HEAD":
        response.headers["content-length"] = str(len(body))
    return response


@router.api_route("/playground", methods=["GET", "HEAD"])
@router.api_route("/playground/", methods=["GET", "HEAD"])
async def page(request: Request) -> Response:
    return _file(request, resolve(STATIC, "index.html"))


@router.api_route("/playground/static/{relative:path}", methods=["GET", "HEAD"])
async def asset(request: Request, relative: str) -> Response:
    return _file(request, resolve(STATIC, relative))


@router.api_route("/playground/{rest:path}", methods=["GET", "HEAD"])
async def elsewhere(request: Request) -> Response:
    """Any other path under the page's: a 404 under the same headers."""
    return _not_found(request)
