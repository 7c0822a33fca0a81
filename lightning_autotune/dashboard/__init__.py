"""A live dashboard in the browser: `serve(storage)`, or `lightning-autotune dashboard`.

It reads the store (SQLite file, PostgreSQL, or an in-memory store from the same process) while
studies run, and serves pages whose Plotly charts update by themselves. plotly (extra
`[dashboard]`) is needed; plotly.js is served from the installed package, never a CDN.
"""

from __future__ import annotations

import ipaddress
import os
import re
import threading
from pathlib import Path

from lightning_autotune.dashboard._cache import StoreReader
from lightning_autotune.dashboard._server import DashboardHTTPServer
from lightning_autotune.exceptions import ConfigError, StorageError
from lightning_autotune.storage import Storage, get_storage
from lightning_autotune.storage._schema import parse_url

__all__ = ["TOKEN_ENV", "Dashboard", "serve"]

TOKEN_ENV = "LIGHTNING_AUTOTUNE_DASHBOARD_TOKEN"
"""Environment variable read for the token when `token=` is not given."""

_TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~-]+")


class Dashboard:
    """A running dashboard server (what `serve(..., block=False)` returns).

    Attributes:
        url: The address to open, with `?token=` when a token is set.
        host, port: Where it listens (the port the system picked when 0 was asked for).
    """

    def __init__(self, server: DashboardHTTPServer, host: str) -> None:
        self._server = server
        self.host = host
        self.port = int(server.server_address[1])
        shown = f"[{host}]" if ":" in host else host
        suffix = f"/?token={server.token}" if server.token else "/"
        self.url = f"http://{shown}:{self.port}{suffix}"
        self._thread = threading.Thread(
            target=server.serve_forever, name="autotune-dashboard", daemon=True
        )

    def start(self) -> Dashboard:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __repr__(self) -> str:
        return f"Dashboard({self.url!r})"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _open_store(storage: Storage | str) -> Storage:
    if isinstance(storage, str):
        url = parse_url(storage)
        path = url.database
        is_file_url = url.get_backend_name() == "sqlite" and path not in (None, "", ":memory:")
        if is_file_url and not Path(str(path)).is_file():  # opening would create an empty store
            raise StorageError(
                f"no store at {path!r} (from storage={storage!r}); give the file a study "
                "writes to, e.g. --storage sqlite:///autotune.db"
            )
    return get_storage(storage)


def serve(
    storage: Storage | str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str | None = None,
    block: bool = True,
    min_interval: float = 0.5,
) -> Dashboard:
    """Serve the dashboard of every study in `storage`.

    Args:
        storage: A store, or its URL ('sqlite:///autotune.db', 'postgresql://...').
        host: The interface to listen on. Anything but a loopback address needs a token.
        port: The TCP port (0: any free one; see `Dashboard.port`).
        token: The secret every request must carry (default: the environment variable
            LIGHTNING_AUTOTUNE_DASHBOARD_TOKEN, if set).
        block: Serve until interrupted (Ctrl-C); False serves in a background thread and
            returns at once (for notebooks: call `.stop()` when done).
        min_interval: Seconds a study read is reused for (bounds the load many pages put on
            the store).

    Returns:
        The running (or, after `block=True`, stopped) dashboard.

    Raises:
        ConfigError: A non-loopback `host` without a token, or an empty token.
        StorageError: The SQLite file does not exist, or the store cannot be read.

    Example:
        >>> board = serve("sqlite:///autotune.db", port=0, block=False)  # doctest: +SKIP
        >>> board.url  # doctest: +SKIP
        'http://127.0.0.1:49152/'
        >>> board.stop()  # doctest: +SKIP
    """
    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    if token is not None and not _TOKEN_CHARS.fullmatch(token):
        raise ConfigError(
            f"token must be a non-empty secret of letters, digits and '-._~' (it travels in URLs "
            f"and a cookie), got {token!r}; e.g. python -c 'import secrets; "
            "print(secrets.token_urlsafe())'"
        )
    if token is None and not _is_loopback(host):
        raise ConfigError(
            f"host={host!r} exposes the dashboard beyond this machine, so it needs a token: "
            f"pass --token (token=) or set {TOKEN_ENV}; or keep the default host 127.0.0.1"
        )
    reader = StoreReader(_open_store(storage), min_interval=min_interval)
    board = Dashboard(DashboardHTTPServer((host, port), reader, token), host)
    if not block:
        return board.start()
    print(f"lightning-autotune dashboard: {board.url} (Ctrl-C stops it)", flush=True)
    try:
        board._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        board._server.server_close()
    return board
