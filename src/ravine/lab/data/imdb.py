"""IMDB movie reviews as bag-of-words vectors, built from the original texts.

Recipe (version :data:`RECIPE`): read the labelled reviews from the tar (no extraction); lower-case, replace the
``<br />`` line breaks, split into words (runs of letters and digits, joined by inner apostrophes: ``don't``);
the vocabulary is the ``vocab_size`` most frequent words of the 25,000 training reviews (ties alphabetical); a
review becomes the counts of its vocabulary words (out-of-vocabulary words are dropped), or their presence
(``binary=True``). Reviews are ordered by label (negative first), then by their numeric id.

The counts are cached under ``<cache>/imdb/`` in a file whose name is a hash of the recipe, the vocabulary size
and the source file's checksum, so changing any of them builds a new one.

Reference: Maas et al. (ACL 2011), Learning Word Vectors for Sentiment Analysis (the data set); Kingma & Ba
(ICLR 2015), Adam, section 6.1 (10,000-word bag-of-words logistic regression).
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import tarfile
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ravine import paths
from ravine.lab.data.sources import IMDB, DataError, locate, sha256

RECIPE = 1
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_MEMBER = re.compile(r"^aclImdb/(train|test)/(neg|pos)/(\d+)_(\d+)\.txt$")
LABELS = ("neg", "pos")


def tokenize(text: str) -> list[str]:
    """The words of a review: lower case, ``<br />`` as a space, letters/digits with inner apostrophes."""
    return WORD.findall(text.lower().replace("<br />", " "))


@dataclass(frozen=True)
class TextSplit:
    """Reviews of one split.

    Attributes:
        x: float32 sparse CSR tensor (N, vocab_size): word counts, or 1.0 for present words when binary.
        y: int64 labels (0 negative, 1 positive).
        rating: int64 star ratings from the file names (1-4 negative, 7-10 positive).
        id: int64 review ids from the file names.
    """

    x: Tensor
    y: Tensor
    rating: Tensor
    id: Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class BagOfWords:
    """The IMDB train/test split as bag-of-words vectors, with the vocabulary (most frequent word first)."""

    train: TextSplit
    test: TextSplit
    vocab: tuple[str, ...]
    binary: bool


def load_imdb(
    data_dir: str | os.PathLike | None = None, *, vocab_size: int = 10_000, binary: bool = True
) -> BagOfWords:
    """Load IMDB as a bag of words (see the module docstring for the recipe), building the cache if needed.

    Args:
        data_dir: where to look for ``aclImdb_v1.tar.gz`` or ``aclImdb_v1_labeled.tar.gz``.
        vocab_size: number of words kept, >= 1 (Kingma & Ba use 10,000).
        binary: presence (1.0) instead of counts.

    Returns:
        :class:`BagOfWords` with 25,000 train and 25,000 test reviews.

    Raises:
        ValueError: ``vocab_size`` < 1.
        DataError: the archive is missing or corrupt.
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
        raise ValueError(f"vocab_size must be an integer >= 1, got {vocab_size!r}")
    files = locate(IMDB, data_dir)
    (archive,) = files.values()
    path = cache_path(archive, vocab_size)
    if not path.is_file():
        _write_cache(path, build_counts(archive, vocab_size))
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    vocab = tuple(str(w) for w in arrays["vocab"])
    return BagOfWords(
        _split(arrays, "train", len(vocab), binary), _split(arrays, "test", len(vocab), binary), vocab, binary
    )


def cache_path(archive: Path, vocab_size: int) -> Path:
    """Where the counts for ``archive`` and ``vocab_size`` are cached; the name changes with the recipe."""
    key = json.dumps(
        {"recipe": RECIPE, "word": WORD.pattern, "vocab_size": vocab_size, "source": sha256(archive)}, sort_keys=True
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return paths.cache_dir() / "imdb" / f"bow-{vocab_size}-{digest}.npz"


def read_reviews(archive: Path) -> dict[str, list[tuple[int, int, int, str]]]:
    """The labelled reviews per split as ``(label, id, rating, text)``, sorted by label then id."""
    out: dict[str, list[tuple[int, int, int, str]]] = {"train": [], "test": []}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                m = _MEMBER.match(member.name)
                if m is None or not member.isfile():
                    continue
                text = tar.extractfile(member).read().decode("utf-8")  # type: ignore[union-attr]
                split, label, rid, rating = m.groups()
                out[split].append((LABELS.index(label), int(rid), int(rating), text))
    except (OSError, EOFError, tarfile.TarError, UnicodeDecodeError) as e:
        raise DataError(f"{archive} could not be read as the IMDB archive: {e}") from None
    for reviews in out.values():
        reviews.sort(key=lambda r: (r[0], r[1]))
    return out


def vocabulary(docs: list[list[str]], size: int) -> list[str]:
    """The ``size`` most frequent words over ``docs`` (total occurrences; ties in alphabetical order)."""
    counts: collections.Counter[str] = collections.Counter()
    for d in docs:
        counts.update(d)
    return sorted(counts, key=lambda w: (-counts[w], w))[:size]


def build_counts(archive: Path, vocab_size: int) -> dict[str, np.ndarray]:
    """Tokenise every review and count vocabulary words; returns the arrays that are cached."""
    reviews = read_reviews(archive)
    tokens = {s: [tokenize(r[3]) for r in reviews[s]] for s in reviews}
    vocab = vocabulary(tokens["train"], vocab_size)
    index = {w: i for i, w in enumerate(vocab)}
    arrays: dict[str, np.ndarray] = {"vocab": np.array(vocab, dtype=str)}
    for s, docs in tokens.items():
        indptr, cols, counts = [0], [], []
        for d in docs:
            ids, n = np.unique(np.array([index[w] for w in d if w in index], dtype=np.int32), return_counts=True)
            cols.append(ids)
            counts.append(n.astype(np.int32))
            indptr.append(indptr[-1] + len(ids))
        arrays[f"{s}_indptr"] = np.array(indptr, dtype=np.int64)
        arrays[f"{s}_indices"] = np.concatenate(cols) if cols else np.zeros(0, np.int32)
        arrays[f"{s}_counts"] = np.concatenate(counts) if counts else np.zeros(0, np.int32)
        arrays[f"{s}_y"] = np.array([r[0] for r in reviews[s]], dtype=np.int64)
        arrays[f"{s}_id"] = np.array([r[1] for r in reviews[s]], dtype=np.int64)
        arrays[f"{s}_rating"] = np.array([r[2] for r in reviews[s]], dtype=np.int64)
    return arrays


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    # Written to a temporary name and renamed: worker processes may read the cache while another one builds it.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".bow-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _split(arrays: dict[str, np.ndarray], s: str, vocab_size: int, binary: bool) -> TextSplit:
    counts = arrays[f"{s}_counts"]
    values = np.ones_like(counts, dtype=np.float32) if binary else counts.astype(np.float32)
    n = len(arrays[f"{s}_y"])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        x = torch.sparse_csr_tensor(
            torch.from_numpy(arrays[f"{s}_indptr"]),
            torch.from_numpy(arrays[f"{s}_indices"].astype(np.int64)),
            torch.from_numpy(values),
            size=(n, vocab_size),
            check_invariants=False,
        )
    return TextSplit(
        x,
        torch.from_numpy(arrays[f"{s}_y"]),
        torch.from_numpy(arrays[f"{s}_rating"]),
        torch.from_numpy(arrays[f"{s}_id"]),
    )
