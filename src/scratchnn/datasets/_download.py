"""Downloading one file safely: verified checksum, temporary file, atomic rename.

A download either ends with the complete, verified file at its destination or raises
:class:`~scratchnn.errors.DatasetError` and leaves nothing behind, so a later run never
mistakes a half-written file for data.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO, Any

from scratchnn._validation import check_real, describe
from scratchnn.errors import DatasetError

__all__ = ["DEFAULT_TIMEOUT", "download_file"]

DEFAULT_TIMEOUT = 60.0
"""Seconds to wait for the server to connect or send more data (not for the whole file)."""

_CHUNK_SIZE = 1 << 16


def download_file(
    url: str,
    destination: str | os.PathLike[str],
    *,
    md5: str,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``destination`` if its MD5 checksum is ``md5``.

    The bytes go to a temporary file in the destination's folder, which is renamed into
    place with :func:`os.replace` only once the transfer is complete and verified.

    Parameters
    ----------
    url : str
        Address to fetch (``http``, ``https`` or ``file``).
    destination : str or os.PathLike
        Final path of the file; its folder is created when missing.
    md5 : str
        Expected MD5 hex digest of the whole file. Verification cannot be turned off.
    timeout : float, default 60
        Seconds to wait for the connection or for each block of data.
    progress : bool, default True
        Show a tqdm progress bar on stderr.

    Returns
    -------
    pathlib.Path
        ``destination``.

    Raises
    ------
    ValueError
        If ``md5`` is not an MD5 hex digest or ``timeout`` is not positive.
    DatasetError
        On an HTTP error, an unreachable server, a timeout, a transfer shorter than
        announced, a checksum mismatch or a destination that cannot be written; the
        message names the URL and what went wrong.
    """
    destination = Path(destination)
    timeout = check_real(timeout, "timeout", low=0, low_inclusive=False)
    expected = md5.strip().lower() if isinstance(md5, str) else ""
    if len(expected) != 32 or any(digit not in "0123456789abcdef" for digit in expected):
        raise ValueError(f"md5 must be a 32-digit hexadecimal MD5 digest; got {describe(md5)}")
    # Folders this call creates, deepest first: removed again if the download fails.
    created = [folder for folder in (destination.parent, *destination.parent.parents)
               if not folder.exists()]
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        # Same folder as the destination so that os.replace is a rename, hence atomic.
        handle, temp_name = tempfile.mkstemp(
            prefix=f".{destination.name}.", suffix=".part", dir=destination.parent
        )
    except OSError as error:
        raise DatasetError(
            f"cannot download {url}: the folder {destination.parent} is not writable ({error})"
        ) from error
    temp_path = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            received, digest = _transfer(url, out, timeout=timeout, progress=progress)
        if digest != expected:
            raise DatasetError(
                f"checksum mismatch for {url}: expected MD5 {expected}, got {digest} "
                f"({received} bytes); the download was discarded"
            )
        os.replace(temp_path, destination)
    except BaseException as error:
        # Whatever went wrong, no partial or unverified file (nor an empty folder made for
        # it) may stay behind.
        temp_path.unlink(missing_ok=True)
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


def _transfer(url: str, out: IO[bytes], *, timeout: float, progress: bool) -> tuple[int, str]:
    """Copy the body of ``url`` into ``out``; return the number of bytes and their MD5."""
    # Imported on use: the network stack (ssl, email, ...) costs tens of milliseconds at
    # import time, and only downloads need it.
    import http.client
    import urllib.error
    import urllib.request

    digest = hashlib.md5(usedforsecurity=False)
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as error:
        # The error object holds the open connection; close it to release the socket.
        with error:
            raise DatasetError(
                f"downloading {url} failed: HTTP {error.code} {error.reason}"
            ) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise DatasetError(f"downloading {url} failed: {reason}") from error
    with response:
        length_header = response.headers.get("Content-Length")
        expected_size = int(length_header) if length_header and length_header.isdigit() else None
        bar = _progress_bar(url, expected_size) if progress else None
        received = 0
        try:
            while True:
                chunk = response.read(_CHUNK_SIZE)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        except http.client.IncompleteRead as error:
            received += len(error.partial)
            raise DatasetError(_truncated_message(url, received, expected_size)) from None
        except (TimeoutError, OSError, http.client.HTTPException) as error:
            raise DatasetError(
                f"downloading {url} failed after {received} bytes: {error!r}"
            ) from error
        finally:
            if bar is not None:
                bar.close()
    if expected_size is not None and received != expected_size:
        raise DatasetError(_truncated_message(url, received, expected_size))
    return received, digest.hexdigest()


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

