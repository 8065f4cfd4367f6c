"""Where the real data sets live, how their files are checked, and how a user with internet gets them.

A data set is a list of *layouts*: sets of files that each hold the whole data set (IMDB comes either as the
original ``aclImdb_v1.tar.gz`` or as the labelled-only repack). Every file carries its SHA256 and size, so a
file found on disk or downloaded is used only if it is byte-for-byte the published one.

The directory searched is, in order of precedence: the ``data_dir`` argument, ``$RAVINE_DATA``, then
``<cache>/data`` (:mod:`ravine.paths`). Inside it, a data set's files are looked for in ``<dir>/<name>/`` and in
``<dir>/`` itself, so both ``--data-dir ~/data`` and ``--data-dir ~/data/mnist`` work.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ravine import paths


class DataError(RuntimeError):
    """A data set is missing, incomplete or corrupt; the message says where ravine looked and how to fix it."""


@dataclass(frozen=True)
class DataFile:
    """One published file: its name, SHA256, size in bytes, and the URLs it can be downloaded from (first wins)."""

    name: str
    sha256: str
    size: int
    urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataSet:
    """A data set: its directory name, the layouts it may come in (the first is downloaded), and its origin."""

    name: str
    title: str
    layouts: tuple[tuple[DataFile, ...], ...]
    homepage: str
    citation: str

    def files(self) -> tuple[DataFile, ...]:
        """Every file of every layout."""
        return tuple(f for layout in self.layouts for f in layout)


def _files(bases: tuple[str, ...], table: dict[str, tuple[str, int]]) -> tuple[DataFile, ...]:
    return tuple(DataFile(n, h, s, tuple(b + n for b in bases)) for n, (h, s) in table.items())


# The checksums are those of the files in the project's shared data directory, whose READMEs trace them to the
# upstream MD5s (MNIST: torchvision's list; Fashion-MNIST: the zalandoresearch README).
MNIST = DataSet(
    name="mnist",
    title="MNIST",
    layouts=(
        _files(
            ("http://yann.lecun.com/exdb/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/"),
            {
                "train-images-idx3-ubyte.gz": (
                    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                    9_912_422,
                ),
                "train-labels-idx1-ubyte.gz": (
                    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                    28_881,
                ),
                "t10k-images-idx3-ubyte.gz": (
                    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                    1_648_877,
                ),
                "t10k-labels-idx1-ubyte.gz": (
                    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                    4_542,
                ),
            },
        ),
    ),
    homepage="http://yann.lecun.com/exdb/mnist/",
    citation="LeCun, Cortes & Burges, The MNIST database of handwritten digits",
)

FASHION_MNIST = DataSet(
    name="fashion-mnist",
    title="Fashion-MNIST",
    layouts=(
        _files(
            ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
            {
                "train-images-idx3-ubyte.gz": (
                    "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                    26_421_880,
                ),
                "train-labels-idx1-ubyte.gz": (
                    "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                    29_515,
                ),
                "t10k-images-idx3-ubyte.gz": (
                    "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                    4_422_102,
                ),
                "t10k-labels-idx1-ubyte.gz": (
                    "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                    5_148,
                ),
            },
        ),
    ),
    homepage="https://github.com/zalandoresearch/fashion-mnist",
    citation="Xiao, Rasul & Vollgraf (2017), arXiv:1708.07747",
)

IMDB = DataSet(
    name="imdb",
    title="IMDB Large Movie Review Dataset v1.0",
    layouts=(
        _files(
            ("https://ai.stanford.edu/~amaas/data/sentiment/",),
            {"aclImdb_v1.tar.gz": ("c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe", 84_125_825)},
        ),
        # The labelled part alone, repacked (same review files); not downloadable, accepted when present.
        _files(
            (),
            {
                "aclImdb_v1_labeled.tar.gz": (
                    "ce311d350b563eb879b0c11bdd8ff9ac3fd8947430db9ab9ec8ba981fae654ff",
                    28_655_156,
                )
            },
        ),
    ),
    homepage="https://ai.stanford.edu/~amaas/data/sentiment/",
    citation="Maas et al. (ACL 2011), Learning Word Vectors for Sentiment Analysis",
)

CIFAR10 = DataSet(
    name="cifar-10",
    title="CIFAR-10 (python version)",
    layouts=(
        _files(
            ("https://www.cs.toronto.edu/~kriz/",),
            {
                "cifar-10-python.tar.gz": (
                    "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                    170_498_071,
                )
            },
        ),
    ),
    homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
    citation="Krizhevsky (2009), Learning Multiple Layers of Features from Tiny Images",
)

DATASETS: dict[str, DataSet] = {d.name: d for d in (MNIST, FASHION_MNIST, IMDB, CIFAR10)}


def dataset(name: str) -> DataSet:
    """The data set called ``name`` (``mnist``, ``fashion-mnist``, ``imdb``, ``cifar-10``)."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}") from None


def root(data_dir: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The directory to search and why it was chosen: the argument, else ``$RAVINE_DATA``, else the cache."""
    if data_dir is not None:
        return Path(data_dir).expanduser(), "the data_dir argument"
    env = paths.data_dir_from_env()
    if env is not None:
        return env, "$RAVINE_DATA"
    return paths.default_data_dir(), "the default data directory"


def sha256(path: Path) -> str:
    """The SHA256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _candidates(ds: DataSet, base: Path) -> list[Path]:
    return [base / ds.name, base]


def locate(ds: DataSet, data_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Find a complete layout of ``ds`` and verify every file; returns file name -> path.

    Raises:
        DataError: nothing complete was found (the message lists the places searched and how to get the data),
            or a file is there but its size or SHA256 differs from the published one.
    """
    base, why = root(data_dir)
    for folder in _candidates(ds, base):
        for layout in ds.layouts:
            found = {f.name: folder / f.name for f in layout}
            if all(p.is_file() for p in found.values()):
                for f in layout:
                    verify(found[f.name], f)
                return found
    raise DataError(_missing_message(ds, base, why))


def verify(path: Path, f: DataFile) -> None:
    """Raise :class:`DataError` unless ``path`` has ``f``'s size and SHA256."""
    size = path.stat().st_size
    if size != f.size:
        raise DataError(
            f"{path} is {size:,} bytes, expected {f.size:,} (truncated or not the published file); "
            f"delete it and get it again from {f.urls[0] if f.urls else 'its source'}"
        )
    got = sha256(path)
    if got != f.sha256:
        raise DataError(
            f"{path} has SHA256 {got}, expected {f.sha256} (corrupt or a different version); "
            f"delete it and get it again from {f.urls[0] if f.urls else 'its source'}"
        )


def _missing_message(ds: DataSet, base: Path, why: str) -> str:
    searched = " and ".join(str(p) for p in _candidates(ds, base))
    layouts = " or ".join(", ".join(f.name for f in layout) for layout in ds.layouts)
    return (
        f"{ds.title} not found: looked in {searched} (chosen by {why}) for {layouts}. "
        f"Get it with `python -m ravine.lab.data download {ds.name}` (from {ds.homepage}), "
        "or point --data-dir / $RAVINE_DATA at a directory that holds it."
    )


Fetcher = Callable[[str, Path], None]


def urllib_fetch(url: str, dest: Path) -> None:
    """Copy ``url`` (http, https or file) to ``dest``."""
    req = urllib.request.Request(url, headers={"User-Agent": "ravine (python urllib)"})
    with urllib.request.urlopen(req, timeout=60) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)


def download(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    mirror: str | None = None,
    fetch: Fetcher = urllib_fetch,
) -> dict[str, Path]:
    """Download data set ``name`` (its first layout) into ``<dir>/<name>/`` and verify every file.

    Files already present and correct are kept. Each download goes to a temporary file that is renamed into
    place only after its size and SHA256 match, so a failed or corrupt download never leaves a file behind. A
    data set folder that did not exist is filled under a temporary name and moved into place only when every
    file is verified: a failed download (no network, say) leaves no folder, not even an empty one.

    Args:
        name: a data set name (see :data:`DATASETS`).
        data_dir: the directory (default: ``$RAVINE_DATA``, else ``<cache>/data``).
        mirror: a base URL (``https://...`` or ``file:///...``) that replaces the official ones.
        fetch: ``fetch(url, dest)`` copies one URL to a local path (tests pass a fake one).

    Returns:
        File name -> verified path.

    Raises:
        DataError: every URL of some file failed, or gave bytes with the wrong checksum.
    """
    ds = dataset(name)
    base, _ = root(data_dir)
    folder = base / ds.name
    created = [d for d in (folder, *folder.parents) if not d.exists()][::-1][:-1]  # new parents, outermost first
    staging = None
    try:
        if folder.is_dir():
            target = folder
        else:
            base.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{ds.name}.partial-", dir=base))
            target = staging
        names = []
        for f in ds.layouts[0]:
            dest = target / f.name
            names.append(f.name)
            if dest.is_file():
                try:
                    verify(dest, f)
                    continue
                except DataError:
                    dest.unlink()
            urls = (mirror.rstrip("/") + "/" + f.name,) if mirror else f.urls
            _fetch_one(f, urls, dest, fetch)
        if staging is not None:
            os.replace(staging, folder)
            staging = None
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for d in reversed(created):
            try:
                d.rmdir()
            except OSError:
                break
        raise
    return {n: folder / n for n in names}


def _fetch_one(f: DataFile, urls: tuple[str, ...], dest: Path, fetch: Fetcher) -> Path:
    errors = []
    for url in urls:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{f.name}.", dir=dest.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            fetch(url, tmp)
            verify(tmp, f)
            os.replace(tmp, dest)
            return dest
        except (OSError, DataError) as e:
            errors.append(f"{url}: {e}")
        finally:
            tmp.unlink(missing_ok=True)
    tried = "; ".join(errors) or "no URL is known for this file"
    raise DataError(f"could not download {f.name}: {tried}")
