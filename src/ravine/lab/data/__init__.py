"""Real data sets for the task lab, read from their original published files and verified by SHA256.

``load_mnist``, ``load_fashion_mnist``, ``load_cifar10`` (images) and ``load_imdb`` (bag-of-words reviews) look
for the files in the ``data_dir`` argument, else ``$RAVINE_DATA``, else ``<cache>/data``, and raise
:class:`DataError` -- saying where they looked and how to get the data -- when files are missing or corrupt.
``download(name)`` (or ``python -m ravine.lab.data download NAME``) fetches them from the official sources.

Example:
    >>> from ravine.lab.data import load_mnist
    >>> mnist = load_mnist("/data")                      # doctest: +SKIP
    >>> mnist.train.x.shape, mnist.test.y.bincount()     # doctest: +SKIP
"""

from ravine.lab.data.images import ImageData, Split, load_cifar10, load_fashion_mnist, load_mnist
from ravine.lab.data.imdb import BagOfWords, TextSplit, load_imdb, tokenize
from ravine.lab.data.sources import DATASETS, DataError, DataFile, DataSet, download, locate

__all__ = [
    "DATASETS",
    "BagOfWords",
    "DataError",
    "DataFile",
    "DataSet",
    "ImageData",
    "Split",
    "TextSplit",
    "download",
    "load_cifar10",
    "load_fashion_mnist",
    "load_imdb",
    "load_mnist",
    "locate",
    "tokenize",
]
