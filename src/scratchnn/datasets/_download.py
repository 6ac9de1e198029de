"""Downloading one file safely: verified checksum, temporary file, atomic rename.

A download either ends with the complete, verified file at its destination or raises
:class:`~scratchnn.errors.DatasetError` and leaves nothing behind, so a later run never
mistakes a half-written file for data. The server is not trusted: the whole transfer has a
deadline (a server dripping one byte at a time cannot hold it forever), the body may not pass
a size cap (nor fill the disk), and a malformed answer is a ``DatasetError`` naming the URL.
A ``file://`` address must name a regular file: a FIFO or a device could block or never end.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import threading
import time
from pathlib import Path
from typing import IO, Any

from scratchnn._files import commit_temp, discard_temp, open_locked_temp, remove_stale_temps
from scratchnn._validation import check_non_negative_int, check_real, describe
from scratchnn.errors import DatasetError

__all__ = ["DEFAULT_DEADLINE", "DEFAULT_TIMEOUT", "download_file", "seconds_or_unlimited"]

DEFAULT_TIMEOUT = 60.0
"""Seconds to wait for the server to connect or send more data (not for the whole file)."""

DEFAULT_DEADLINE = 900.0
"""Seconds a whole download may take: 15 minutes, i.e. Fashion-MNIST's 30 MB at 35 kB/s."""

_CHUNK_SIZE = 1 << 16
_PART_SUFFIX = ".part"


def seconds_or_unlimited(seconds: float | None) -> float | None:
    """``seconds``, or None (no limit) from ``threading.TIMEOUT_MAX`` (about 292 years) up.

    Python's timers and socket timeouts cannot wait longer (they raise OverflowError, in the
    watchdog's thread where nobody sees it), and no download is waited for that long anyway.
    """
    if seconds is None or seconds >= threading.TIMEOUT_MAX:
        return None
    return seconds


def download_file(
    url: str,
    destination: str | os.PathLike[str],
    *,
    md5: str,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float | None = DEFAULT_DEADLINE,
    max_bytes: int | None = None,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``destination`` if its MD5 checksum is ``md5``.

    The bytes go to a temporary file ``.<name>.<pid>.<random>.part`` in the destination's
    folder, which is renamed into place with :func:`os.replace` only once the transfer is
    complete and verified. The download holds that file locked until then; temporary files
    for the same destination that nobody holds locked (a killed download's) are removed
    first, also those that earlier versions named ``.<name>.<8 characters>.part``.

    Parameters
    ----------
    url : str
        Address to fetch (``http``, ``https`` or ``file``).
    destination : str or os.PathLike
        Final path of the file; its folder is created when missing.
    md5 : str
        Expected MD5 hex digest of the whole file. Verification cannot be turned off.
    timeout : float, default 60
        Seconds to wait for the connection or for each block of data; from
        ``threading.TIMEOUT_MAX`` (about 292 years) up, no limit.
    deadline : float or None, default 900
        Seconds the whole transfer may take, from connecting to the last byte; the
        connection is cut when they pass, even in the middle of a read. ``None``, or
        ``threading.TIMEOUT_MAX`` and up: no limit (``timeout`` still applies to each read).
    max_bytes : int or None, default None
        Largest body accepted: a larger announced ``Content-Length`` is refused before
        anything is written, and a body without one is cut as soon as it passes this size.
        ``None``: no cap.
    progress : bool, default True
        Show a tqdm progress bar on stderr.

    Returns
    -------
    pathlib.Path
        ``destination``.

    Raises
    ------
    TypeError, ValueError
        If ``md5`` is not an MD5 hex digest, or ``timeout``, ``deadline`` or ``max_bytes``
        is not a positive number (``max_bytes``: a non-negative integer).
    DatasetError
        On an HTTP error, an unreachable server, a timeout, a passed deadline, a malformed
        response or redirect, a body larger than ``max_bytes``, a transfer shorter than
        announced, a checksum mismatch, a ``file://`` URL that is not a regular file or a
        destination that cannot be written; the message names the URL and what went wrong.
    """
    destination = Path(destination)
    timeout_or_none = seconds_or_unlimited(
        check_real(timeout, "timeout", low=0, low_inclusive=False)
    )
    if deadline is not None:
        deadline = check_real(deadline, "deadline", low=0, low_inclusive=False)
    deadline = seconds_or_unlimited(deadline)
    if max_bytes is not None:
        max_bytes = check_non_negative_int(max_bytes, "max_bytes")
    expected = md5.strip().lower() if isinstance(md5, str) else ""
    if len(expected) != 32 or any(digit not in "0123456789abcdef" for digit in expected):
        raise ValueError(f"md5 must be a 32-digit hexadecimal MD5 digest; got {describe(md5)}")
    # Folders this call creates, deepest first: removed again if the download fails.
    created = [folder for folder in (destination.parent, *destination.parent.parents)
               if not folder.exists()]
    # Names mkstemp gave the temp files of downloads before the process id was in them.
    legacy = rf"\.{re.escape(destination.name)}\.[a-z0-9_]{{8}}{re.escape(_PART_SUFFIX)}"
    remove_stale_temps(destination, _PART_SUFFIX, legacy=[legacy])
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        # Same folder as the destination so that os.replace is a rename, hence atomic.
        handle, temp_path = open_locked_temp(destination, _PART_SUFFIX)
    except OSError as error:
        _remove_empty(created)
        raise DatasetError(
            f"cannot download {url}: the folder {destination.parent} is not writable ({error})"
        ) from error
    out = os.fdopen(handle, "wb")
    try:
        received, digest = _transfer(
            url, out, timeout=timeout_or_none, deadline=deadline, max_bytes=max_bytes,
            progress=progress,
        )
        if digest != expected:
            raise DatasetError(
                f"checksum mismatch for {url}: expected MD5 {expected}, got {digest} "
                f"({received} bytes); the download was discarded"
            )
        commit_temp(out, temp_path, destination)     # renamed while still locked
    except BaseException as error:
        # Whatever went wrong, no partial or unverified file (nor an empty folder made for
        # it) may stay behind.
        discard_temp(out, temp_path)
        _remove_empty(created)
        if isinstance(error, OSError):
            # Raised by the file system here, not by the network (handled in _transfer).
            raise DatasetError(f"cannot save {url} to {destination}: {error}") from error
        raise
    return destination


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()       # only succeeds while the folder is empty
        except OSError:
            return


def _transfer(
    url: str,
    out: IO[bytes],
    *,
    timeout: float | None,
    deadline: float | None,
    max_bytes: int | None,
    progress: bool,
) -> tuple[int, str]:
    """Copy the body of ``url`` into ``out``; return the number of bytes and their MD5."""
    # Imported on use: the network stack (ssl, email, ...) costs tens of milliseconds at
    # import time, and only downloads need it.
    import http.client
    import urllib.error

    digest = hashlib.md5(usedforsecurity=False)
    watchdog = _Watchdog(deadline)
    received = 0
    try:
        try:
            response = _opener(watchdog).open(url, timeout=watchdog.limit(timeout))
        except urllib.error.HTTPError as error:
            # The error object holds the open connection; close it to release the socket.
            with error:
                raise DatasetError(
                    f"downloading {url} failed: HTTP {error.code} {_short(error.reason)}"
                ) from None
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as error:
            watchdog.raise_if_passed(url, received)
            reason = getattr(error, "reason", error)
            if isinstance(reason, http.client.HTTPException):
                # BadStatusLine, LineTooLong, too many headers...: not an HTTP server's answer.
                reason = f"malformed response ({type(reason).__name__}: {_short(reason)})"
            raise DatasetError(f"downloading {url} failed: {_short(reason, 200)}") from error
        with response:
            expected_size = _content_length(url, response)
            if expected_size is not None and max_bytes is not None and expected_size > max_bytes:
                raise DatasetError(
                    f"downloading {url} failed: the server announces {expected_size} bytes, "
                    f"more than the {max_bytes} this file can have; nothing was saved"
                )
            limit = max_bytes if max_bytes is not None else expected_size
            bar = _progress_bar(url, expected_size) if progress else None
            try:
                while True:
                    # One byte past the limit is enough to tell that the body is too long.
                    want = _CHUNK_SIZE if limit is None else min(_CHUNK_SIZE, limit - received + 1)
                    chunk = _read_chunk(url, response, want, received, expected_size, watchdog)
                    if not chunk:
                        break
                    if max_bytes is not None and received + len(chunk) > max_bytes:
                        raise DatasetError(
                            f"downloading {url} failed: the server sent more than the "
                            f"{max_bytes} bytes this file can have; the download was discarded"
                        )
                    # A full disk raises OSError here: download_file names the destination.
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
    finally:
        watchdog.stop()
    if expected_size is not None and received != expected_size:
        raise DatasetError(_truncated_message(url, received, expected_size))
    return received, digest.hexdigest()


def _read_chunk(
    url: str,
    response: Any,
    size: int,
    received: int,
    expected_size: int | None,
    watchdog: _Watchdog,
) -> bytes:
    """Up to ``size`` bytes of the body; every network failure becomes a DatasetError."""
    import http.client

    try:
        # read1: what has arrived (at most size bytes), not a wait until size bytes have come.
        chunk: bytes = response.read1(size)
    except http.client.IncompleteRead as error:
        watchdog.raise_if_passed(url, received)
        received += len(error.partial)
        raise DatasetError(_truncated_message(url, received, expected_size)) from None
    except (OSError, ValueError, http.client.HTTPException) as error:
        # OSError covers TimeoutError and ConnectionResetError; HTTPException a broken
        # chunked encoding; ValueError whatever else a garbled body makes http.client raise.
        watchdog.raise_if_passed(url, received)
        raise DatasetError(
            f"downloading {url} failed after {received} bytes: {_short(repr(error))}"
        ) from error
    # A connection cut by the deadline reads as the end of the body: never take it for one.
    watchdog.raise_if_passed(url, received)
    return chunk


def _content_length(url: str, response: Any) -> int | None:
    """The announced body size, None when not given; a malformed value is a DatasetError.

    http.client silently ignores a length it cannot parse (and int() accepts "+5", " 5" and
    "1_000"), so the header is checked here: decimal digits only, one value.
    """
    if response.headers.get("Transfer-Encoding", "").strip().lower() == "chunked":
        return None      # the chunks carry their own sizes; a Content-Length is ignored
    values = {value.strip() for value in response.headers.get_all("Content-Length") or []}
    if not values:
        return None
    text = values.pop() if len(values) == 1 else None
    # 20 digits reach 10**20 bytes (100 exabytes); int() refuses 4,300 digits with ValueError.
    if text is None or not (text.isascii() and text.isdigit() and len(text) <= 20):
        shown = "with several values" if text is None else repr(_short(text))
        raise DatasetError(
            f"downloading {url} failed: malformed response (Content-Length {shown} is not "
            "one byte count)"
        )
    return int(text)


class _Watchdog:
    """Cuts the connections of one download when its deadline passes, even mid-read.

    A read timeout bounds each wait for data, not the transfer: a server sending one byte
    every half second would never trip it. A timer shuts the sockets down at the deadline,
    which wakes a read blocked in another thread; the reader then sees ``passed``.
    """

    def __init__(self, seconds: float | None) -> None:
        seconds = seconds_or_unlimited(seconds)    # a longer Timer dies of OverflowError
        self.seconds = seconds
        self.passed = False
        self._end = None if seconds is None else time.monotonic() + seconds
        self._sockets: list[Any] = []
        self._lock = threading.Lock()
        self._timer = None if seconds is None else threading.Timer(seconds, self._cut)
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()

    def limit(self, timeout: float | None) -> float | None:
        """``timeout`` (None: no limit), or less if the deadline is nearer."""
        if self._end is None:
            return timeout
        left = self._end - time.monotonic()
        return max(left if timeout is None else min(timeout, left), 1e-3)

    def watch(self, sock: Any) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.passed:
                _shut(sock)

    def raise_if_passed(self, url: str, received: int) -> None:
        if self._end is not None and time.monotonic() >= self._end:
            self.passed = True
        if self.passed:
            raise DatasetError(
                f"downloading {url} failed: not complete within the deadline of "
                f"{self.seconds:.3g} s ({received} bytes received); the server is too slow or "
                "stalled. Try again later, or pass a larger deadline= (deadline=None: no limit)"
            )

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join()

    def _cut(self) -> None:
        with self._lock:
            self.passed = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: Any) -> None:
    import socket

    try:
        # socket.socket's own shutdown, also for an SSL socket: it acts on the file
        # descriptor, which wakes a blocked read with an end of file.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, TypeError):
        pass                 # already closed


def _opener(watchdog: _Watchdog) -> Any:
    """A urllib opener whose HTTP(S) connections report their socket to ``watchdog``."""
    import urllib.request

    class Watched:
        def do_open(self, http_class: Any, req: Any, **kwargs: Any) -> Any:
            class WatchedConnection(http_class):
                def connect(self) -> None:
                    super().connect()
                    watchdog.watch(self.sock)

            return super().do_open(WatchedConnection, req, **kwargs)  # type: ignore[misc]

    class ClosingRedirectHandler(urllib.request.HTTPRedirectHandler):
        # urllib leaves the redirect's answer (and its socket) open when the Location
        # cannot be followed, e.g. "http://[::1" (ValueError while parsing it).
        def http_error_302(self, req: Any, fp: Any, code: int, msg: str, headers: Any) -> Any:
            try:
                return super().http_error_302(req, fp, code, msg, headers)
            except BaseException:
                fp.close()
                raise

        http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302

    class RegularFileHandler(urllib.request.FileHandler):
        def open_local_file(self, req: Any) -> Any:
            return _open_regular_file(req)

    handlers: list[Any] = [
        type("HTTPHandler", (Watched, urllib.request.HTTPHandler), {})(),
        ClosingRedirectHandler(),
        RegularFileHandler(),
    ]
    if hasattr(urllib.request, "HTTPSHandler"):    # Python built without ssl has none
        handlers.append(type("HTTPSHandler", (Watched, urllib.request.HTTPSHandler), {})())
    return urllib.request.build_opener(*handlers)


def _open_regular_file(req: Any) -> Any:
    """The file of a ``file://`` request, opened for reading only if it is a regular file.

    A FIFO blocks open() and every read, out of the deadline's reach (it cuts sockets); a
    device such as /dev/zero never ends. The path is checked before opening, so that no
    device is even opened, and again once opened without blocking (O_NONBLOCK), in case
    another file was put under its name in between.
    """
    import email.message
    import urllib.error
    import urllib.request
    import urllib.response

    url = req.full_url
    if req.host and req.host.lower() != "localhost":
        raise urllib.error.URLError("a file:// URL may name no host other than localhost")
    path = urllib.request.url2pathname(req.selector)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        # URLError is an OSError: the checks stay out of this try, or it would wrap them.
        info = os.stat(path)
    except OSError as error:
        raise urllib.error.URLError(error) from error
    _check_regular(info)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        raise urllib.error.URLError(error) from error
    # Reading a regular file never blocks, O_NONBLOCK or not.
    file = os.fdopen(descriptor, "rb")
    try:
        info = os.fstat(descriptor)
        _check_regular(info)
    except BaseException:
        file.close()
        raise
    headers = email.message.Message()
    headers["Content-Length"] = str(info.st_size)
    return urllib.response.addinfourl(file, headers, url)


def _check_regular(info: os.stat_result) -> None:
    """URLError unless ``info`` is a regular file's (read by _transfer as the failure's reason)."""
    import urllib.error

    if stat.S_ISREG(info.st_mode):
        return
    kind = "a special file"
    for test, name in [(stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")]:
        if test(info.st_mode):
            kind = name
    raise urllib.error.URLError(
        f"it is {kind}, not a regular file (only regular files are read from file:// URLs)"
    )


def _short(value: object, length: int = 80) -> str:
    """``str(value)`` on one printable line, cut to ``length`` characters: a server's status
    line can be 64 kB of anything."""
    text = " ".join(str(value).split())
    if not text.isprintable():
        text = ascii(text)
    return text if len(text) <= length else text[: length - 3] + "..."


def _truncated_message(url: str, received: int, expected_size: int | None) -> str:
    announced = f" of the {expected_size} announced" if expected_size is not None else ""
    return (
        f"downloading {url} failed: the connection closed after {received} bytes{announced} "
        "(truncated transfer); try again"
    )


def _progress_bar(url: str, total: int | None) -> Any:
    # tqdm is imported here, not at module level: only downloads need it.
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=url.rsplit("/", 1)[-1],
    )
