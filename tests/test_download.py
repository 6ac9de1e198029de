"""Downloads against a local HTTP server: verified, atomic, and nothing left behind on failure."""

from __future__ import annotations

import hashlib
import http.server
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from scratchnn.datasets import fashion_mnist as fm
from scratchnn.datasets import load_fashion_mnist
from scratchnn.datasets._download import download_file
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


class Handler(http.server.BaseHTTPRequestHandler):
    """``/ok/NAME`` serves a file, ``/truncated/NAME`` half of it under the full length,
    ``/status/CODE/NAME`` answers with that HTTP error."""

    root: Path  # set on the subclass made per server

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        parts = self.path.strip("/").split("/")
        if parts[0] == "status":
            self.send_error(int(parts[1]))
            return
        path = self.root / parts[-1]
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        if parts[0] == "truncated":
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True  # the transfer stops short of what was announced
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

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
    handler = type("ServedHandler", (Handler,), {"root": served})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
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
    import os

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
    assert source.name.endswith(".part") and content == (served / SMALL).read_bytes()


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
