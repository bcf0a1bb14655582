"""The rules every segmenter follows for model weights it may have to download.

* ``BATCHSEG_OFFLINE``: when set to anything but an "off" word (``0``, ``false``, ``no``, ``off``,
  ``none`` or empty), no download is ever tried; a missing file is an error at once (:func:`offline`).
* ``BATCHSEG_DOWNLOAD_TIMEOUT``: seconds without data after which a download attempt gives up
  (default 20 s, at least 1 s; a value that is not a number falls back to the default)
  (:func:`download_timeout`).
* :func:`socket_timeout` gives downloaders that open sockets without a timeout (Cellpose's
  ``urlopen``) that bound while they run.
* :func:`checking_only` (``segment --dry-run``): while it runs, a missing built-in file is not
  downloaded; its resolver calls :func:`note_download` instead, which collects a line saying what the
  run would download (or the resolver raises the run's offline error, phrased for a dry run).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import socket
from collections.abc import Iterator

__all__ = [
    "DEFAULT_DOWNLOAD_TIMEOUT",
    "check_host",
    "checking_only",
    "note_download",
    "OFFLINE_ENV",
    "TIMEOUT_ENV",
    "download_timeout",
    "failed_download",
    "installed_source",
    "offline",
    "socket_timeout",
]

OFFLINE_ENV = "BATCHSEG_OFFLINE"
TIMEOUT_ENV = "BATCHSEG_DOWNLOAD_TIMEOUT"
DEFAULT_DOWNLOAD_TIMEOUT = 20.0
#: Values of an environment switch that mean "off" (compared lower-case, stripped).
OFF_WORDS: tuple[str, ...] = ("0", "off", "false", "no", "none", "")


#: the lines :func:`checking_only` collects; ``None``: not checking (resolvers may download)
_CHECKING: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("checking", default=None)


@contextlib.contextmanager
def checking_only() -> Iterator[list[str]]:
    """While the block runs, resolvers only look for files; yields the "would download" lines."""
    notes: list[str] = []
    token = _CHECKING.set(notes)
    try:
        yield notes
    finally:
        _CHECKING.reset(token)


def checking() -> bool:
    """Whether a :func:`checking_only` block is running (then no download may be tried)."""
    return _CHECKING.get() is not None


def note_download(line: str) -> bool:
    """In a :func:`checking_only` block, record ``line`` and return True; else False (go on, download)."""
    notes = _CHECKING.get()
    if notes is None:
        return False
    notes.append(line)
    return True


def offline() -> bool:
    """Whether ``BATCHSEG_OFFLINE`` forbids downloads (set, and not one of :data:`OFF_WORDS`)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in OFF_WORDS


def download_timeout() -> float:
    """Seconds a download may go without data: ``BATCHSEG_DOWNLOAD_TIMEOUT``, default 20, at least 1."""
    try:
        return max(1.0, float(os.environ.get(TIMEOUT_ENV, DEFAULT_DOWNLOAD_TIMEOUT)))
    except ValueError:
        return DEFAULT_DOWNLOAD_TIMEOUT


@contextlib.contextmanager
def socket_timeout(seconds: float) -> Iterator[None]:
    """Give sockets opened without a timeout a default one while the block runs, then restore it."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def check_host(url: str) -> None:
    """Raise ``OSError`` at once when the download host's name does not resolve (no network).

    Done before importing a downloader (which imports torch: seconds, tens of seconds on a loaded
    machine), so an offline machine gets its error in a moment. Skipped when a proxy is configured (the
    proxy resolves names).
    """
    import urllib.parse
    import urllib.request

    if urllib.request.getproxies():
        return
    host = urllib.parse.urlsplit(url).hostname
    if host:
        socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)


def failed_download(exc: BaseException) -> str:
    """Why a download failed, in a few words: no connection, a time-out, else the error's first line.

    (requests' connection errors run to hundreds of characters of pool and resolver reprs.)
    """
    from ..errors import describe

    kinds, text = {cls.__name__ for cls in type(exc).__mro__}, str(exc)
    # what a user can act on first (a review: a refused certificate read "no connection")
    if kinds & {"SSLError", "SSLCertVerificationError"} or "CERTIFICATE_VERIFY_FAILED" in text:
        return ("download failed: the server's certificate could not be verified (a proxy that inspects "
                "traffic needs its certificate in REQUESTS_CA_BUNDLE or SSL_CERT_FILE)")
    if "ProxyError" in kinds:
        return "download failed: the proxy refused or could not reach the server (check HTTPS_PROXY)"
    if kinds & {"Timeout", "ReadTimeout", "ConnectTimeout", "TimeoutError", "timeout"}:
        return f"download failed: no data for {download_timeout():g} s ({TIMEOUT_ENV} sets the limit)"
    if kinds & {"NameResolutionError", "MaxRetryError"} or any(
            words in text for words in ("Max retries", "name resolution", "Name or service not known")):
        return "download failed: no connection to the server (offline, or a firewall in the way)"
    return f"download failed: {describe(exc)}"


def installed_source(package: str, file: str) -> str | None:
    """The text of ``file`` in the installed ``package``, read without importing it (``None``: not there).

    Cellpose's and micro-sam's download addresses are read from their source: importing the modules
    that hold them imports torch (seconds, tens of seconds on a loaded machine). Only the top-level
    spec is looked up: finding a submodule's would import the package.
    """
    import importlib.util
    from pathlib import Path

    try:
        spec = importlib.util.find_spec(package)
        folders = list(spec.submodule_search_locations or []) if spec is not None else []
        if not folders:
            return None
        return (Path(folders[0]) / file).read_text(encoding="utf-8")
    except (ImportError, OSError, ValueError):
        return None
