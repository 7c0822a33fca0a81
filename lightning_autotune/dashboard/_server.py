"""The dashboard's HTTP server: the standard library's `ThreadingHTTPServer`, read-only.

Every request is checked against the token when one is set (header `X-Autotune-Token`,
`Authorization: Bearer`, `?token=` or the cookie set after a `?token=` visit; constant-time
comparison). Only GET and HEAD exist: nothing the dashboard serves can change the store.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import mimetypes
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from lightning_autotune.dashboard._cache import StoreReader
from lightning_autotune.dashboard._routes import PAGES, ApiError, api_response

__all__ = ["DashboardHTTPServer", "plotly_js_path"]

_COOKIE = "autotune_token"
_STATIC = ("app.css", "common.js", "charts.js", "studies.js", "study.js", "trial.js")
_SECURITY_HEADERS = {
    # No inline script can run, whatever a stored name contains. Plotly needs inline styles, and
    # its WebGL charts (regl) compile their shaders' glue with `new Function`, hence unsafe-eval;
    # the dashboard's own code never evaluates a string.
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token may sit in the page's URL
    "X-Frame-Options": "DENY",
}


def plotly_js_path() -> Path:
    """The `plotly.min.js` bundled with the installed `plotly` package (no CDN anywhere).

    Raises:
        ImportError: plotly is not installed, with the command that installs it.
    """
    try:
        import plotly
    except ImportError:
        raise ImportError(
            "the dashboard needs plotly: pip install 'lightning-autotune[dashboard]'"
        ) from None
    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _json_bytes(payload: Any) -> bytes:
    text = json.dumps(payload, default=str, separators=(",", ":"))
    # '<' and '>' escaped too, so no stored string can close a tag if the JSON is ever inlined.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").encode()


class DashboardHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server holding the store reader and the token.

    Args:
        address: (host, port); port 0 picks a free one.
        reader: The store's reader.
        token: The secret every request must carry, or None for none.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], reader: StoreReader, token: str | None) -> None:
        self.reader = reader
        self.token = token
        self.plotly_js = plotly_js_path()
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: DashboardHTTPServer
    server_version = "lightning-autotune-dashboard"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a poll every second would flood the terminal

    def do_HEAD(self) -> None:
        self._handle(head=True)

    def do_GET(self) -> None:
        self._handle(head=False)

    def _refuse_write(self) -> None:
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED,
            _json_bytes({"error": "the dashboard is read-only: only GET and HEAD are served"}),
            "application/json",
            extra={"Allow": "GET, HEAD"},
        )

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse_write

    def _token_ok(self, query: dict[str, str]) -> tuple[bool, bool]:
        """(accepted, came from the query string)."""
        expected = self.server.token
        if expected is None:
            return True, False
        given = self.headers.get("X-Autotune-Token")
        bearer = self.headers.get("Authorization", "")
        if given is None and bearer.startswith("Bearer "):
            given = bearer[len("Bearer ") :]
        from_query = given is None and "token" in query
        if from_query:
            given = query["token"]
        if given is None:
            morsel = SimpleCookie(self.headers.get("Cookie", "")).get(_COOKIE)
            given = None if morsel is None else morsel.value
        ok = given is not None and hmac.compare_digest(given.encode(), expected.encode())
        return ok, ok and from_query

    def _handle(self, head: bool) -> None:
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query))
        ok, set_cookie = self._token_ok(query)
        if not ok:
            message = "a valid token is required: add ?token=... or the X-Autotune-Token header"
            self._send(HTTPStatus.UNAUTHORIZED, _json_bytes({"error": message}), "application/json")
            return
        extra = {}
        if set_cookie:
            assert self.server.token is not None
            cookie = f"{_COOKIE}={self.server.token}; HttpOnly; SameSite=Strict; Path=/"
            extra["Set-Cookie"] = cookie
        parts = [unquote(p) for p in split.path.split("/")[1:]]
        if parts and parts[-1] == "" and len(parts) > 1:
            parts.pop()
        status, body, kind = self._route(parts, query)
        self._send(status, b"" if head else body, kind, extra=extra, length=len(body))

    def _route(self, parts: list[str], query: dict[str, str]) -> tuple[HTTPStatus, bytes, str]:
        if parts and parts[0] == "api":
            try:
                payload = api_response(self.server.reader, parts[1:], query)
            except ApiError as err:
                return err.status, _json_bytes({"error": err.message}), "application/json"
            except Exception as err:  # a store error is shown on the page, not a dropped socket
                message = _json_bytes({"error": f"{type(err).__name__}: {err}"})
                return HTTPStatus.INTERNAL_SERVER_ERROR, message, "application/json"
            return HTTPStatus.OK, _json_bytes(payload), "application/json"
        if len(parts) == 2 and parts[0] == "static":
            if parts[1] == "plotly.min.js":
                return HTTPStatus.OK, self.server.plotly_js.read_bytes(), "text/javascript"
            if parts[1] in _STATIC:
                kind = mimetypes.guess_type(parts[1])[0] or "application/octet-stream"
                return HTTPStatus.OK, _asset(parts[1]), kind
        page = PAGES.get(len(parts))
        shapes = {1: parts == [""], 2: parts[:1] == ["study"], 4: parts[::2] == ["study", "trial"]}
        if page is not None and shapes[len(parts)]:
            return HTTPStatus.OK, _asset(page), "text/html; charset=utf-8"
        return HTTPStatus.NOT_FOUND, b"not found", "text/plain; charset=utf-8"

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        kind: str,
        *,
        extra: dict[str, str] | None = None,
        length: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.send_header("Cache-Control", "no-store")
        for key, value in {**_SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        # The page may go away (navigation, closed tab) before the answer is sent.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


def _asset(name: str) -> bytes:
    return resources.files("lightning_autotune.dashboard").joinpath("static", name).read_bytes()
