"""Fashion-MNIST for the benchmark: 60,000 + 10,000 images, float32 scaled to [-1, 1].

Uses ``scratchnn.datasets.load_fashion_mnist`` when the checkout has it, else a small IDX
reader (gzip + ``np.frombuffer`` past the 16-byte image / 8-byte label headers). Never
downloads: the files must be in ``$SCRATCHNN_DATA_DIR/fashion-mnist`` or in
``../shared/datasets/fashion-mnist`` beside the repository root.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def data_dir() -> Path:
    """The folder holding the Fashion-MNIST IDX files."""
    candidates = []
    env = os.environ.get("SCRATCHNN_DATA_DIR")
    if env:
        candidates.append(Path(env).expanduser() / "fashion-mnist")
    candidates.append(REPO.parent / "shared" / "datasets" / "fashion-mnist")
    for folder in candidates:
        stem = folder / FILES["train"][0]
        if stem.with_name(stem.name + ".gz").is_file() or stem.is_file():
            return folder
    raise SystemExit(
        "Fashion-MNIST not found; looked in: "
        + ", ".join(str(c) for c in candidates)
        + ". Set SCRATCHNN_DATA_DIR to the folder holding fashion-mnist/."
    )


def _read_idx(path: Path, header: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, dtype=np.uint8, offset=header)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise SystemExit(f"{stem}(.gz) not found in {folder}")


def _fallback_load(folder: Path):
    out = []
    for images, labels in FILES.values():
        x = _read_idx(_find(folder, images), 16).reshape(-1, 28, 28)
        y = _read_idx(_find(folder, labels), 8)
        out.append((x, y))
    return tuple(out)


def scale(images: np.ndarray) -> np.ndarray:
    """uint8 (n, 28, 28) -> float32 (n, 784) in [-1, 1], as the book does."""
    x = images.reshape(len(images), -1).astype(np.float32)
    x -= 127.5
    x /= 127.5
    return x


def load() -> tuple[dict[str, np.ndarray], str]:
    """Return the arrays (X_train, y_train, X_test, y_test) and which loader was used."""
    folder = data_dir()
    loader = "bench IDX reader"
    try:
        from scratchnn.datasets import load_fashion_mnist
    except ImportError:
        load_fashion_mnist = None
    if load_fashion_mnist is not None:
        try:
            (x, y), (xt, yt) = load_fashion_mnist(folder, download=False)
            if np.asarray(x).dtype != np.uint8:
                raise TypeError(f"expected uint8 images, got {np.asarray(x).dtype}")
            loader = "scratchnn.datasets.load_fashion_mnist"
        except Exception as exc:  # an unfinished loader must not stop the benchmark
            print(
                f"note: scratchnn.datasets.load_fashion_mnist failed ({exc!r}); "
                "using the bench IDX reader"
            )
            (x, y), (xt, yt) = _fallback_load(folder)
    else:
        (x, y), (xt, yt) = _fallback_load(folder)
    arrays = {
        "X_train": scale(np.asarray(x)),
        "y_train": np.asarray(y, dtype=np.int64).ravel(),
        "X_test": scale(np.asarray(xt)),
        "y_test": np.asarray(yt, dtype=np.int64).ravel(),
    }
    if arrays["X_train"].shape != (60000, 784) or arrays["X_test"].shape != (10000, 784):
        raise SystemExit(f"unexpected shapes: { {k: v.shape for k, v in arrays.items()} }")
    return arrays, f"{loader} from {folder}"
