"""Datasets from the book: generated toy data and Fashion-MNIST, plus image preprocessing.

>>> from scratchnn.datasets import spiral_data
>>> X, y = spiral_data(samples=100, classes=3, rng=0)
>>> X.shape, y.shape
((300, 2), (300,))
"""

from __future__ import annotations

from scratchnn.datasets.fashion_mnist import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_MD5,
    FASHION_MNIST_SIZES,
    FASHION_MNIST_URL,
    DatasetNotFoundError,
    fashion_mnist_dir,
    load_fashion_mnist,
    read_idx,
)
from scratchnn.datasets.generated import sine_data, spiral_data, vertical_data
from scratchnn.datasets.mnist1d import load_mnist1d
from scratchnn.datasets.preprocessing import flatten, preprocess_images, scale_images

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_MD5",
    "FASHION_MNIST_SIZES",
    "FASHION_MNIST_URL",
    "DatasetNotFoundError",
    "fashion_mnist_dir",
    "flatten",
    "load_fashion_mnist",
    "load_mnist1d",
    "preprocess_images",
    "read_idx",
    "scale_images",
    "sine_data",
    "spiral_data",
    "vertical_data",
]
