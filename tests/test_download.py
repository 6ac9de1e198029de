"""Downloads against a local HTTP server: verified, atomic, and nothing left behind on failure."""

from __future__ import annotations

import gc
import hashlib
import http.server
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from scratchnn.datasets import fashion_mnist as fm
from scratchnn.datasets import load_fashion_mnist
from scratchnn.datasets._download import _Watchdog, download_file
from scratchnn.errors import DatasetError

NAMES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]
SMALL = "t10k-labels-idx1-ubyte.gz"  # 5 kB: the file the failure tests download


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


# Raw answers for /raw/CASE/NAME: (bytes sent, words the error must contain). Each is
# something a broken or hostile server may send instead of a proper HTTP response.
RAW = {
    "length abc": (b"HTTP/1.0 200 OK\r\nContent-Length: abc\r\n\r\nbody",
                   "Content-Length 'abc' is not one byte count"),
    "length 5000 digits": (b"HTTP/1.0 200 OK\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n",
                           "Content-Length '99999"),
    "negative length": (b"HTTP/1.0 200 OK\r\nContent-Length: -5\r\n\r\nbody",
                        "Content-Length '-5' is not one byte count"),
    "signed length": (b"HTTP/1.0 200 OK\r\nContent-Length: +4\r\n\r\nbody",
                      "Content-Length '+4' is not one byte count"),
    "empty length": (b"HTTP/1.0 200 OK\r\nContent-Length: \r\n\r\nbody",
                     "Content-Length '' is not one byte count"),
    "two lengths": (b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nbody",
                    "Content-Length with several values is not one byte count"),
    "huge length": (b"HTTP/1.0 200 OK\r\nContent-Length: 1000000000000\r\n\r\nbody",
                    "announces 1000000000000 bytes, more than the 5148 this file can have; "
                    "nothing was saved"),
    "bad status line": (b"HELLO WORLD\r\n\r\n", "malformed response (BadStatusLine"),
    "binary status line": (b"\x00\x1b[31mHI\r\n\r\n",
                           "malformed response (BadStatusLine: '\\x00\\x1b[31mHI')"),
    "status out of range": (b"HTTP/1.0 1000 OK\r\n\r\n", "malformed response (BadStatusLine"),
    "unknown protocol": (b"HTTP/2.0 200 OK\r\n\r\n", "malformed response (UnknownProtocol"),
    "header line too long": (b"HTTP/1.0 200 OK\r\nX: " + b"a" * 70000 + b"\r\n\r\n",
                             "malformed response (LineTooLong"),
    "too many headers": (b"HTTP/1.0 200 OK\r\n" + b"X: 1\r\n" * 101 + b"\r\n",
                         "malformed response (HTTPException: got more than 100 headers)"),
    "no answer": (b"", "Remote end closed connection without response"),
    "bad chunk": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                  "truncated transfer"),
    "reset": (b"HTTP/1.0 200 OK\r\nContent-Length: 5148\r\n\r\nbody", "failed"),
}
PACE = 0.2  # seconds between the bytes of a dripping server


class Handler(http.server.BaseHTTPRequestHandler):
    """``/ok/NAME`` serves a file, ``/truncated/NAME`` half of it under the full length,
    ``/status/CODE/NAME`` answers with that HTTP error, ``/raw/CASE/NAME`` sends ``RAW[CASE]``,
    ``/drip/NAME`` one byte of the body every ``PACE`` seconds, ``/drip-headers/NAME`` one byte
    of a header line every ``PACE`` seconds, ``/endless/NAME`` a body without a length that
    never ends, ``/bad-redirect/NAME`` a 302 to the malformed ``http://[::1``. The slow and
    endless ones stop when the client goes or ``stop`` is set."""

    root: Path  # set on the subclass made per server
    stop: threading.Event

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        parts = self.path.strip("/").split("/")
        try:
            self.answer(parts)
        except OSError:
            pass  # the client hung up (a deadline or a cap cut it): what these tests want

    def answer(self, parts: list[str]) -> None:
        if parts[0] == "status":
            self.send_error(int(parts[1]))
            return
        if parts[0] == "bad-redirect":
            self.send_response(302)
            self.send_header("Location", "http://[::1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts[0] == "raw":
            if parts[1] == "reset":
                # Linger 0: closing sends a TCP reset instead of an orderly end.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
            self.wfile.write(RAW[parts[1].replace("-", " ")][0])
            self.wfile.flush()
            self.close_connection = True
            return
        path = self.root / parts[-1]
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        if parts[0] == "drip-headers":
            self.wfile.write(b"HTTP/1.0 200 OK\r\nX-Slow: ")
            self.drip(b"a" * 60000)  # 3 hours at this pace, never an end of line
            return
        self.send_response(200)
        if parts[0] != "endless":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if parts[0] == "truncated":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True  # the transfer stops short of what was announced
        elif parts[0] == "drip":
            self.drip(body)  # 5148 bytes: 17 minutes at this pace
        elif parts[0] == "endless":
            while not self.stop.is_set():
                self.wfile.write(b"\0" * 4096)
        else:
            self.wfile.write(body)

    def drip(self, data: bytes) -> None:
        for index in range(len(data)):
            self.wfile.write(data[index : index + 1])
            self.wfile.flush()
            if self.stop.wait(PACE):  # a pacing delay, not a synchronisation: see the tests
                return

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # keep test output clean


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real .gz files, copied from the shared folder into a served folder."""
    from conftest import shared_datasets_dir

    source = shared_datasets_dir()
    if source is None:
        raise RuntimeError("the shared datasets were not found; see tests/conftest.py")
    root = tmp_path_factory.mktemp("served")
    for name in NAMES:
        shutil.copyfile(source / "fashion-mnist" / name, root / name)
    return root


@pytest.fixture(scope="module")
def server(served: Path):
    stop = threading.Event()
    handler = type("ServedHandler", (Handler,), {"root": served, "stop": stop})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    stop.set()  # ends any slow or endless answer still being sent
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def served_checksums(served: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the checksum table at the served files (the shared copy is re-ordered)."""
    for name in NAMES:
        monkeypatch.setitem(fm.FASHION_MNIST_MD5, name, md5_of(served / name))


def assert_only(folder: Path, names: list[str]) -> None:
    """``folder`` holds exactly ``names``: no partial, temporary or unverified file."""
    assert sorted(path.name for path in folder.iterdir()) == sorted(names)


def folder_missing(target: Path, served: Path, name: str) -> list[str]:
    """Fill ``target`` with every file but ``name``; return the names put there."""
    target.mkdir()
    present = [other for other in NAMES if other != name]
    for other in present:
        shutil.copyfile(served / other, target / other)
    return present


def test_download_all_then_load(server, served, served_checksums, tmp_path, data_dir, capsys):
    target = tmp_path / "cache" / "fashion-mnist"  # created on demand
    (X_train, y_train), (X_test, y_test) = load_fashion_mnist(
        target, base_url=server + "/ok/", progress=True
    )
    assert_only(target, NAMES)
    for name in NAMES:
        assert (target / name).read_bytes() == (served / name).read_bytes()
    assert X_train.shape == (60000, 28, 28) and X_test.shape == (10000, 28, 28)
    (X_ref, y_ref), _ = load_fashion_mnist(data_dir / "fashion-mnist", download=False)
    np.testing.assert_array_equal(X_train, X_ref)
    np.testing.assert_array_equal(y_train, y_ref)
    assert "t10k-labels-idx1-ubyte.gz" in capsys.readouterr().err  # the progress bar


def test_base_url_without_trailing_slash(server, served, served_checksums, tmp_path):
    target = tmp_path / "data"
    present = folder_missing(target, served, SMALL)
    _, (X_test, y_test) = load_fashion_mnist(target, base_url=server + "/ok", progress=False)
    assert_only(target, [*present, SMALL])
    assert y_test.shape == (10000,)


def test_only_missing_files_are_downloaded(server, served, served_checksums, tmp_path):
    target = tmp_path / "data"
    present = folder_missing(target, served, SMALL)
    # Every URL answers 500, so loading works only if nothing present is fetched again.
    with pytest.raises(DatasetError, match=f"{SMALL} failed: HTTP 500"):
        load_fashion_mnist(target, base_url=server + "/status/500/", progress=False)
    assert_only(target, present)


def test_checksum_mismatch_keeps_nothing(server, served, tmp_path):
    # The published checksums are those of the public release; the served (shared) copy is
    # re-ordered, so verification against the real table must fail.
    target = tmp_path / "data"
    present = folder_missing(target, served, SMALL)
    with pytest.raises(DatasetError, match="checksum mismatch") as caught:
        load_fashion_mnist(target, base_url=server + "/ok/", progress=False)
    message = str(caught.value)
    assert fm.FASHION_MNIST_MD5[SMALL] in message and md5_of(served / SMALL) in message
    assert "discarded" in message
    assert_only(target, present)


def test_truncated_transfer_keeps_nothing(server, served, served_checksums, tmp_path):
    target = tmp_path / "data"
    present = folder_missing(target, served, SMALL)
    size = (served / SMALL).stat().st_size
    with pytest.raises(DatasetError, match="truncated") as caught:
        load_fashion_mnist(target, base_url=server + "/truncated/", progress=False)
    assert f"after {size // 2} bytes of the {size} announced" in str(caught.value)
    assert_only(target, present)


@pytest.mark.parametrize(("code", "reason"), [(404, "Not Found"), (500, "Internal Server Error")])
def test_http_errors_keep_nothing(server, served, served_checksums, tmp_path, code, reason):
    target = tmp_path / "data"
    present = folder_missing(target, served, SMALL)
    with pytest.raises(DatasetError, match=f"HTTP {code} {reason}") as caught:
        load_fashion_mnist(target, base_url=f"{server}/status/{code}/", progress=False)
    assert f"/status/{code}/{SMALL}" in str(caught.value)
    assert_only(target, present)


def test_unreachable_server(tmp_path):
    # Port 9 on 127.0.0.1 (discard) is closed here; bind and close a socket to be sure.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DatasetError, match=rf"downloading http://127\.0\.0\.1:{port}/x\.gz "
                       "failed: ") as caught:
        download_file(
            f"http://127.0.0.1:{port}/x.gz", tmp_path / "x.gz", md5="0" * 32, progress=False
        )
    assert "HTTP" not in str(caught.value)
    assert_only(tmp_path, [])


def test_download_file_success_and_md5_case(server, served, tmp_path):
    digest = md5_of(served / SMALL).upper()  # published checksums may be upper case
    result = download_file(
        f"{server}/ok/{SMALL}", tmp_path / "sub" / SMALL, md5=digest, progress=False
    )
    assert result == tmp_path / "sub" / SMALL
    assert result.read_bytes() == (served / SMALL).read_bytes()
    assert_only(tmp_path / "sub", [SMALL])


def test_failed_download_does_not_touch_an_existing_file(server, served, tmp_path):
    destination = tmp_path / SMALL
    destination.write_bytes(b"keep me")
    with pytest.raises(DatasetError, match="checksum mismatch"):
        download_file(f"{server}/ok/{SMALL}", destination, md5="0" * 32, progress=False)
    assert destination.read_bytes() == b"keep me"
    assert_only(tmp_path, [SMALL])


def test_no_checksum_means_no_download(server, served, tmp_path, monkeypatch):
    target = tmp_path / "data"
    present = folder_missing(target, served, SMALL)
    monkeypatch.delitem(fm.FASHION_MNIST_MD5, SMALL)
    with pytest.raises(DatasetError, match=f"no published checksum for {SMALL}"):
        load_fashion_mnist(target, base_url=server + "/ok/", progress=False)
    assert_only(target, present)


def test_missing_files_without_download(tmp_path):
    with pytest.raises(fm.DatasetNotFoundError, match="not found in") as caught:
        load_fashion_mnist(tmp_path, download=False)
    assert str(tmp_path) in str(caught.value) and SMALL in str(caught.value)
    assert isinstance(caught.value, FileNotFoundError) and isinstance(caught.value, DatasetError)
    assert_only(tmp_path, [])


def test_optional_and_network_modules_are_imported_on_use():
    code = (
        "import sys, scratchnn.datasets, scratchnn.images; "
        "print([m for m in ('tqdm', 'urllib.request', 'PIL') if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"  # tqdm, the network stack and Pillow load on use


@pytest.mark.parametrize(
    ("md5", "timeout", "message"),
    [
        ("abc", 1.0, "md5 must be a 32-digit hexadecimal MD5 digest; got 'abc'"),
        (None, 1.0, "md5 must be a 32-digit hexadecimal MD5 digest; got None"),
        ("0" * 32, 0, r"timeout must be in \(0"),
    ],
)
def test_bad_download_arguments(tmp_path, md5, timeout, message):
    with pytest.raises(ValueError, match=message):
        download_file("http://127.0.0.1:1/x", tmp_path / "x", md5=md5, timeout=timeout)
    assert_only(tmp_path, [])


def test_verified_file_is_renamed_into_place_from_the_same_folder(server, served, tmp_path,
                                                                  monkeypatch):
    renames = []
    real_replace = os.replace

    def recording_replace(source, target):
        renames.append((Path(source), Path(target), Path(source).read_bytes()))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", recording_replace)
    destination = tmp_path / SMALL
    download_file(f"{server}/ok/{SMALL}", destination, md5=md5_of(served / SMALL), progress=False)
    [(source, target, content)] = renames
    assert target == destination and source.parent == destination.parent
    # The temporary name carries this process's id, so that a later run can tell it from one
    # a killed download left behind.
    assert re.fullmatch(rf"\.{re.escape(SMALL)}\.{os.getpid()}\.[0-9a-f]+\.part", source.name)
    assert content == (served / SMALL).read_bytes()


def test_unwritable_destination(server, served, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(DatasetError, match="is not writable"):
        download_file(f"{server}/ok/{SMALL}", blocker / SMALL, md5="0" * 32, progress=False)
    assert_only(tmp_path, ["file"])


def test_failed_first_download_leaves_no_empty_folder_and_says_what_to_do(server, tmp_path):
    target = tmp_path / "cache" / "scratchnn" / "fashion-mnist"
    with pytest.raises(DatasetError) as caught:
        load_fashion_mnist(target, base_url=f"{server}/status/404/", progress=False)
    message = str(caught.value)
    assert "HTTP 404" in message
    assert f"put the .gz files in {target}" in message and "SCRATCHNN_DATA_DIR" in message
    assert list(tmp_path.iterdir()) == []      # cache/scratchnn/fashion-mnist all removed


# ------------------------------------------------------------------ an untrusted server


@pytest.mark.parametrize("case", RAW, ids=list(RAW))
def test_malformed_answers_are_dataset_errors_naming_the_url(server, served, served_checksums,
                                                             tmp_path, case):
    target = tmp_path / "data"
    present = folder_missing(target, served, SMALL)
    base = f"{server}/raw/{case.replace(' ', '-')}/"
    with pytest.raises(DatasetError) as caught:
        load_fashion_mnist(target, base_url=base, progress=False)
    message = str(caught.value)
    assert f"downloading {base}{SMALL} failed" in message
    assert RAW[case][1] in message
    assert "SCRATCHNN_DATA_DIR" in message and f"put the .gz files in {target}" in message
    assert len(message) < 1000  # a 64 kB status line is not repeated in full
    assert_only(target, present)


def test_a_dripping_body_is_cut_at_the_deadline(server, served, served_checksums, tmp_path):
    # The server sends one byte per PACE (0.2 s) of a 5 kB file: finishing would take
    # 17 minutes, so no timing can let it complete within the 1 s deadline. The per-read
    # timeout (60 s) never trips, since a byte comes every 0.2 s.
    target = tmp_path / "data"
    present = folder_missing(target, served, SMALL)
    with pytest.raises(DatasetError, match=r"not complete within the deadline of 1 s \(\d+ bytes "
                       r"received\); the server is too slow or stalled") as caught:
        load_fashion_mnist(target, base_url=f"{server}/drip/", deadline=1, progress=False)
    assert f"/drip/{SMALL}" in str(caught.value) and "deadline=None" in str(caught.value)
    assert_only(target, present)


def test_dripping_headers_are_cut_at_the_deadline(server, tmp_path):
    # Headers dripped byte by byte never reach the body loop: the watchdog cuts the socket
    # while http.client is still reading the header line.
    with pytest.raises(DatasetError, match=r"deadline of 0\.5 s \(0 bytes received\)"):
        download_file(f"{server}/drip-headers/{SMALL}", tmp_path / SMALL, md5="0" * 32,
                      deadline=0.5, progress=False)
    assert_only(tmp_path, [])


def test_the_deadline_is_shared_by_all_the_files_of_one_load(served, tmp_path, monkeypatch):
    # A fake download that uses up the whole deadline (it waits on the clock, not on luck):
    # the next file is then not even started.
    calls: list[tuple[str, float | None]] = []

    def slow_download(folder, name, base_url, *, timeout, deadline, progress):
        calls.append((name, deadline))
        end = time.monotonic() + deadline
        while time.monotonic() <= end:
            pass
        shutil.copyfile(served / name, folder / name)
        return folder / name

    monkeypatch.setattr(fm, "_download", slow_download)
    target = tmp_path / "data"
    target.mkdir()
    with pytest.raises(DatasetError, match="downloading train-labels-idx1-ubyte.gz not "
                       r"started: the deadline of 0\.05 s for all downloads has passed"):
        load_fashion_mnist(target, deadline=0.05, progress=False)
    [(name, deadline)] = calls
    assert name == "train-images-idx3-ubyte.gz" and 0 < deadline <= 0.05


def test_an_endless_body_stops_at_the_size_cap(server, served_checksums, tmp_path, monkeypatch):
    # No Content-Length and a body that never ends: reading stops one byte past the cap (the
    # published size of the file) instead of filling the disk.
    writes: list[int] = []
    real_fdopen = os.fdopen

    def counting_fdopen(*args, **kwargs):
        file = real_fdopen(*args, **kwargs)
        real_write = file.write
        file.write = lambda data: writes.append(len(data)) or real_write(data)
        return file

    monkeypatch.setattr(os, "fdopen", counting_fdopen)
    target = tmp_path / "data"
    with pytest.raises(DatasetError, match=rf"{SMALL} failed: the server sent more than the "
                       "5148 bytes this file can have; the download was discarded"):
        fm._download(target, SMALL, f"{server}/endless/", timeout=10, deadline=60,
                     progress=False)
    assert sum(writes) <= fm.FASHION_MNIST_SIZES[SMALL]
    assert not target.exists()


def test_an_announced_size_above_the_cap_is_refused_before_writing(server, tmp_path):
    with pytest.raises(DatasetError, match="announces 5131 bytes, more than the 100 this file "
                       "can have; nothing was saved"):
        download_file(f"{server}/ok/{SMALL}", tmp_path / SMALL, md5="0" * 32, max_bytes=100,
                      progress=False)
    assert_only(tmp_path, [])


def test_the_size_cap_is_the_published_size():
    assert fm.FASHION_MNIST_SIZES == {
        "train-images-idx3-ubyte.gz": 26421880,
        "train-labels-idx1-ubyte.gz": 29515,
        "t10k-images-idx3-ubyte.gz": 4422102,
        "t10k-labels-idx1-ubyte.gz": 5148,
    }
    assert set(fm.FASHION_MNIST_SIZES) == set(fm.FASHION_MNIST_MD5)


# Holds a file locked, as a download in progress does, until its stdin closes.
HOLDER = """
import fcntl, os, sys
descriptor = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(descriptor, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.readline()
"""


@pytest.mark.skipif(os.name != "posix", reason="stale .part files are cleaned on POSIX only")
def test_part_files_nobody_holds_locked_are_removed_on_the_next_download(server, served,
                                                                          tmp_path):
    pytest.importorskip("fcntl")
    # Above every system's largest process id: as seen from here, the id of a download in
    # another PID namespace (a container sharing the cache).
    dead_pid = 2**22 + 1
    stale = tmp_path / f".{SMALL}.{dead_pid}.0badc0de.part"
    ours = tmp_path / f".{SMALL}.{os.getpid()}.1badc0de.part"    # a killed run's, same PID
    legacy = tmp_path / f".{SMALL}.k3_x9a0q.part"                # mkstemp's, older versions
    alive = tmp_path / f".{SMALL}.{dead_pid}.2badc0de.part"      # locked: in progress
    alive_legacy = tmp_path / f".{SMALL}.zz_00000.part"
    other = tmp_path / f".other.gz.{dead_pid}.0badc0de.part"       # another file's download
    for path in (stale, ours, legacy, alive, alive_legacy, other):
        path.write_bytes(b"half a download")
    holders = [subprocess.Popen([sys.executable, "-c", HOLDER, str(path)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for path in (alive, alive_legacy)]
    try:
        for holder in holders:
            assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        download_file(f"{server}/ok/{SMALL}", tmp_path / SMALL, md5=md5_of(served / SMALL),
                      progress=False)
    finally:
        for holder in holders:
            assert holder.stdin is not None and holder.stdout is not None
            holder.stdin.close()
            assert holder.wait() == 0
            holder.stdout.close()
    assert_only(tmp_path, [SMALL, alive.name, alive_legacy.name, other.name])


# ------------------------------------------------------ limits beyond what Python can wait


def test_a_deadline_beyond_timeout_max_means_no_limit():
    # threading.Timer dies of OverflowError (in its own thread, unseen) past TIMEOUT_MAX.
    for seconds in (threading.TIMEOUT_MAX, 1e10, 1e300):
        watchdog = _Watchdog(seconds)
        assert watchdog.seconds is None and watchdog._timer is None
        assert watchdog.limit(5.0) == 5.0 and watchdog.limit(None) is None
    below = _Watchdog(threading.TIMEOUT_MAX / 2)
    assert below._timer is not None and below.limit(5.0) == 5.0
    below.stop()


@pytest.mark.parametrize(("timeout", "deadline"), [(1e300, None), (60, 1e10),
                                                   (threading.TIMEOUT_MAX, 1e300)])
def test_huge_timeouts_and_deadlines_download_without_limit(server, served, served_checksums,
                                                            tmp_path, monkeypatch, timeout,
                                                            deadline):
    crashes: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", crashes.append)   # a watchdog thread's crash
    target = tmp_path / "data"
    present = folder_missing(target, served, SMALL)
    _, (_, y_test) = load_fashion_mnist(target, base_url=server + "/ok/", timeout=timeout,
                                        deadline=deadline, progress=False)
    assert y_test.shape == (10000,)
    assert_only(target, [*present, SMALL])
    assert crashes == []


# --------------------------------------------------------------------------- file:// URLs


def test_file_urls_read_regular_files(served, served_checksums, tmp_path):
    target = tmp_path / "data"
    present = folder_missing(target, served, SMALL)
    load_fashion_mnist(target, base_url=served.as_uri() + "/", progress=False)
    assert_only(target, [*present, SMALL])
    assert (target / SMALL).read_bytes() == (served / SMALL).read_bytes()


FROM_A_FIFO = """
import os, sys
from pathlib import Path
from scratchnn.datasets import load_fashion_mnist
from scratchnn.datasets import _download
from scratchnn.errors import DatasetError

source, target, swapped = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "swapped"
if swapped:
    # The name was a regular file when checked, a FIFO by the time it is opened.
    real_stat, regular = os.stat, os.stat(sys.executable)

    def stat(path, *args, **kwargs):
        return regular if str(path).startswith(str(source)) else real_stat(path, *args, **kwargs)

    os.stat = stat
try:
    load_fashion_mnist(target, base_url=source.as_uri() + "/", deadline=2, timeout=2,
                       progress=False)
except DatasetError as error:
    print(error)
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("when", ["at once", "swapped"])
def test_a_file_url_naming_a_fifo_is_refused_at_once(tmp_path, when):
    source = tmp_path / "source"
    source.mkdir()
    os.mkfifo(source / "train-images-idx3-ubyte.gz")   # nobody ever writes to it
    target = tmp_path / "data"
    # In a child, so that a hang (open() on a FIFO blocks until a writer comes) fails the test.
    result = subprocess.run([sys.executable, "-c", FROM_A_FIFO, str(source), str(target),
                             when], capture_output=True, text=True, timeout=120)
    url = f"{source.as_uri()}/train-images-idx3-ubyte.gz"
    assert f"downloading {url} failed: it is a FIFO, not a regular file" in result.stdout, (
        result.stdout + result.stderr)
    assert not target.exists()


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_file_url_naming_a_device_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="downloading file:///dev/zero failed: it is a "
                       "character device, not a regular file"):
        download_file("file:///dev/zero", tmp_path / "zero", md5="0" * 32, progress=False)
    assert_only(tmp_path, [])


# ------------------------------------------------------------------------------ redirects


def failure_of(call) -> str:
    """The message of the DatasetError ``call`` raises; its traceback (which holds the
    frames, hence any response they did not close) is dropped on return."""
    try:
        call()
    except DatasetError as error:
        return str(error)
    raise AssertionError("no DatasetError")


def test_a_malformed_redirect_closes_its_answer(server, tmp_path):
    url = f"{server}/bad-redirect/{SMALL}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        message = failure_of(lambda: download_file(url, tmp_path / SMALL, md5="0" * 32,
                                                   progress=False))
        gc.collect()            # an unclosed socket warns when it is collected
    assert message.startswith(f"downloading {url} failed: ")
    assert [str(warning.message) for warning in caught] == []
    assert_only(tmp_path, [])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"deadline": 0}, ValueError, r"deadline must be in \(0"),
        ({"deadline": "1"}, TypeError, "deadline must be a real number"),
        ({"max_bytes": -1}, ValueError, "max_bytes must be a non-negative integer; got -1"),
        ({"max_bytes": 1.5}, TypeError, "max_bytes must be a non-negative integer"),
    ],
)
def test_bad_deadline_and_cap_arguments(tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        download_file("http://127.0.0.1:1/x", tmp_path / "x", md5="0" * 32, **kwargs)
    assert_only(tmp_path, [])
