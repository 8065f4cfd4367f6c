"""IMDB bag of words: on the real archive against its README (counts, balance, star ratings) and its original
vocabulary file; the recipe (tokens, vocabulary, counts) on a small archive made here; the cache and its key."""

from __future__ import annotations

import collections
import io
import tarfile
from pathlib import Path

import pytest
import torch

from ravine.lab.data import BagOfWords, load_imdb, tokenize
from ravine.lab.data import imdb as imdb_mod
from ravine.lab.data.sources import IMDB, locate

# Train ratings per label, from shared/data/imdb/README.md.
TRAIN_RATINGS = {0: {1: 5100, 2: 2284, 3: 2420, 4: 2696}, 1: {7: 2496, 8: 3009, 9: 2263, 10: 4732}}


def _member(shared_data: Path, name: str) -> str:
    """One file of the archive, read by streaming up to it (the tar's paths are sorted)."""
    with tarfile.open(shared_data / "imdb" / "aclImdb_v1_labeled.tar.gz", "r:gz") as tar:
        for m in tar:
            if m.name == name:
                return tar.extractfile(m).read().decode()  # type: ignore[union-attr]
    raise AssertionError(f"{name} is not in the archive")


@pytest.fixture(scope="module")
def bow(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> BagOfWords:
    """The real bag of words, built once per module into the test session's cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAVINE_CACHE", str(tmp_path_factory.getbasetemp() / "ravine-cache"))
        return load_imdb(shared_data)


def test_counts_balance_and_ratings_match_the_readme(bow: BagOfWords) -> None:
    assert len(bow.train) == len(bow.test) == 25_000
    assert bow.train.y.bincount().tolist() == [12_500, 12_500]
    assert bow.test.y.bincount().tolist() == [12_500, 12_500]
    for label, ratings in TRAIN_RATINGS.items():
        got = collections.Counter(bow.train.rating[bow.train.y == label].tolist())
        assert dict(got) == ratings
    assert bool((bow.test.rating[bow.test.y == 0] <= 4).all()) and bool((bow.test.rating[bow.test.y == 1] >= 7).all())


def test_features_are_sparse_binary_rows_over_10000_words(bow: BagOfWords) -> None:
    x = bow.train.x
    assert x.layout == torch.sparse_csr and x.shape == (25_000, 10_000) and x.dtype == torch.float32
    assert len(bow.vocab) == 10_000 and len(set(bow.vocab)) == 10_000
    assert bool((x.values() == 1.0).all())
    lengths = x.crow_indices().diff()
    assert int(lengths.min()) > 0  # every review has some vocabulary words
    cols = x.col_indices()
    row_of = torch.repeat_interleave(torch.arange(len(lengths)), lengths)
    same_row = row_of[1:] == row_of[:-1]
    assert bool((cols[1:] > cols[:-1])[same_row].all())  # sorted, distinct word ids within each review


def test_most_frequent_words_agree_with_the_original_vocabulary_file(shared_data: Path, bow: BagOfWords) -> None:
    # aclImdb/imdb.vocab lists the data set's words most frequent first (Maas et al. 2011); tokenisations differ
    # in details, but the ten most frequent words are the same.
    original = _member(shared_data, "aclImdb/imdb.vocab").split()
    assert set(bow.vocab[:10]) == set(original[:10])


def test_counts_of_one_review_recounted_from_its_text(shared_data: Path, bow: BagOfWords) -> None:
    counts = load_imdb(shared_data, binary=False)  # the cache holds counts; only the values change
    rid, label = int(counts.train.id[0]), "neg" if int(counts.train.y[0]) == 0 else "pos"
    rating = int(counts.train.rating[0])
    text = _member(shared_data, f"aclImdb/train/{label}/{rid}_{rating}.txt")
    index = {w: i for i, w in enumerate(counts.vocab)}
    expected = collections.Counter(index[w] for w in tokenize(text) if w in index)
    row = counts.train.x[0].to_dense()
    assert {i: int(row[i]) for i in row.nonzero().flatten().tolist()} == dict(expected)
    assert torch.equal(bow.train.x.crow_indices(), counts.train.x.crow_indices())


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Great movie!<br /><br />Loved it.", ["great", "movie", "loved", "it"]),
        ("I don't like it's ending", ["i", "don't", "like", "it's", "ending"]),
        ("'quoted' words -- and dashes", ["quoted", "words", "and", "dashes"]),
        ("snake_case and 1950s films", ["snake", "case", "and", "1950s", "films"]),
        ("Amélie, naïve café", ["amélie", "naïve", "café"]),
        ("", []),
    ],
)
def test_tokenize(text: str, words: list[str]) -> None:
    assert tokenize(text) == words


def _archive(path: Path, reviews: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in reviews.items():
            data = text.encode()
            info = tarfile.TarInfo(f"aclImdb/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_recipe_on_a_small_archive(tmp_path: Path) -> None:
    archive = _archive(
        tmp_path / "a.tar.gz",
        {
            "train/pos/10_9.txt": "good good fun",
            "train/pos/2_8.txt": "good plot",
            "train/neg/1_1.txt": "bad bad bad plot",
            "train/unsup/0_0.txt": "ignored ignored ignored ignored",
            "train/urls_pos.txt": "http://x",
            "test/neg/5_2.txt": "bad fun unknownword",
        },
    )
    reviews = imdb_mod.read_reviews(archive)
    assert [(r[0], r[1], r[2]) for r in reviews["train"]] == [(0, 1, 1), (1, 2, 8), (1, 10, 9)]
    arrays = imdb_mod.build_counts(archive, vocab_size=3)
    # Train counts: bad 3, good 3, plot 2, fun 1 -> the top 3, ties alphabetical.
    assert arrays["vocab"].tolist() == ["bad", "good", "plot"]
    assert arrays["train_indptr"].tolist() == [0, 2, 4, 5]
    assert arrays["train_indices"].tolist() == [0, 2, 1, 2, 1]
    assert arrays["train_counts"].tolist() == [3, 1, 1, 1, 2]
    assert arrays["test_indices"].tolist() == [0] and arrays["test_rating"].tolist() == [2]


def test_cache_is_reused_and_its_key_follows_the_recipe(
    shared_data: Path, bow: BagOfWords, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    monkeypatch.setenv("RAVINE_CACHE", str(tmp_path_factory.getbasetemp() / "ravine-cache"))
    (archive,) = locate(IMDB, shared_data).values()
    path = imdb_mod.cache_path(archive, 10_000)
    assert path.is_file()

    def no_rebuild(*args: object) -> None:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(imdb_mod, "build_counts", no_rebuild)
    again = load_imdb(shared_data)
    assert torch.equal(again.train.x.col_indices(), bow.train.x.col_indices())
    assert imdb_mod.cache_path(archive, 5_000) != path
    monkeypatch.setattr(imdb_mod, "RECIPE", imdb_mod.RECIPE + 1)
    assert imdb_mod.cache_path(archive, 10_000) != path


@pytest.mark.parametrize("size", [0, -5, 2.5, True])
def test_vocab_size_must_be_a_positive_integer(size: object) -> None:
    with pytest.raises(ValueError, match="vocab_size must be an integer >= 1"):
        load_imdb("/nonexistent", vocab_size=size)  # type: ignore[arg-type]
