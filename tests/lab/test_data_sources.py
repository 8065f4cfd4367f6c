"""Finding, verifying and downloading data files: the search order, clear errors, and checksums that match the
shared data directory's SHA256SUMS (the outside reference). Nothing is downloaded: the download path is driven
through ``file://`` URLs and fake fetchers."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from ravine.lab.data import DATASETS, DataError, download, load_mnist, locate
from ravine.lab.data import __main__ as data_cli
from ravine.lab.data.sources import MNIST

LABELS = "train-labels-idx1-ubyte.gz"


def _sums(path: Path) -> dict[str, str]:
    return {line.split()[1]: line.split()[0] for line in path.read_text().splitlines() if line.strip()}


def _mnist_copy(shared: Path, dest: Path, *, corrupt: str | None = None, truncate: str | None = None) -> Path:
    """``dest/mnist`` with the four files: symlinks to the shared ones, real copies where a file is damaged."""
    d = dest / "mnist"
    d.mkdir(parents=True)
    for f in MNIST.layouts[0]:
        src = shared / "mnist" / f.name
        if f.name in (corrupt, truncate):
            data = bytearray(src.read_bytes())
            if f.name == corrupt:
                data[len(data) // 2] ^= 0xFF
            else:
                data = data[: len(data) // 2]
            (d / f.name).write_bytes(bytes(data))
        else:
            (d / f.name).symlink_to(src)
    return dest


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "imdb"])
def test_embedded_checksums_match_the_shared_sha256sums(shared_data: Path, name: str) -> None:
    sums = _sums(shared_data / name / "SHA256SUMS")
    embedded = {f.name: f.sha256 for f in DATASETS[name].files() if f.name in sums}
    assert embedded == sums
    for f in DATASETS[name].files():
        if f.name in sums:
            assert (shared_data / name / f.name).stat().st_size == f.size


def test_cifar10_checksum_is_the_published_one() -> None:
    # Keras' cifar10.load_data and torchvision's CIFAR10 verify the same archive: 170,498,071 bytes.
    (f,) = DATASETS["cifar-10"].files()
    assert (f.name, f.sha256, f.size) == (
        "cifar-10-python.tar.gz",
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        170_498_071,
    )


@pytest.mark.parametrize(
    ("use_arg", "use_env", "expected"),
    [(True, True, "arg"), (False, True, "env"), (False, False, "cache")],
)
def test_search_order_argument_then_env_then_cache(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_arg: bool, use_env: bool, expected: str
) -> None:
    dirs = {k: _mnist_copy(shared_data, tmp_path / k) for k in ("arg", "env")}
    cache = tmp_path / "cache"
    _mnist_copy(shared_data, cache / "data")
    monkeypatch.setenv("RAVINE_CACHE", str(cache))
    if use_env:
        monkeypatch.setenv("RAVINE_DATA", str(dirs["env"]))
    else:
        monkeypatch.delenv("RAVINE_DATA", raising=False)
    found = locate(MNIST, dirs["arg"] if use_arg else None)
    root = {"arg": dirs["arg"], "env": dirs["env"], "cache": cache / "data"}[expected]
    assert found[LABELS] == root / "mnist" / LABELS


def test_data_dir_may_name_the_data_set_folder_itself(shared_data: Path) -> None:
    assert locate(MNIST, shared_data / "mnist")[LABELS] == shared_data / "mnist" / LABELS


def test_missing_data_says_where_it_looked_and_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "mnist") in msg and "the data_dir argument" in msg
    assert "python -m ravine.lab.data download mnist" in msg
    assert "\n" not in msg


def test_missing_data_names_the_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAVINE_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"\$RAVINE_DATA"):
        load_mnist()


@pytest.mark.parametrize(("damage", "message"), [("corrupt", "SHA256"), ("truncate", "bytes, expected")])
def test_damaged_file_is_refused_with_its_path(shared_data: Path, tmp_path: Path, damage: str, message: str) -> None:
    root = _mnist_copy(shared_data, tmp_path, **{damage: LABELS})
    with pytest.raises(DataError, match=message) as e:
        load_mnist(root)
    assert str(root / "mnist" / LABELS) in str(e.value)


def test_download_from_a_file_url_mirror_verifies_and_loads(shared_data: Path, tmp_path: Path) -> None:
    mirror = (shared_data / "mnist").resolve().as_uri()
    files = download("mnist", tmp_path, mirror=mirror)
    assert sorted(files) == sorted(f.name for f in MNIST.layouts[0])
    for name, path in files.items():
        assert path.parent == tmp_path / "mnist" and not path.is_symlink()
        assert hashlib.sha256(path.read_bytes()).hexdigest() == _sums(shared_data / "mnist" / "SHA256SUMS")[name]
    assert load_mnist(tmp_path).train.y.shape == (60_000,)


def test_download_tries_the_official_urls_in_order_and_keeps_good_files(shared_data: Path, tmp_path: Path) -> None:
    calls: list[str] = []

    def fetch(url: str, dest: Path) -> None:
        calls.append(url)
        if "lecun" in url:
            raise OSError("HTTP Error 403: Forbidden")
        shutil.copyfile(shared_data / "mnist" / url.rsplit("/", 1)[1], dest)

    download("mnist", tmp_path, fetch=fetch)
    assert calls[:2] == [
        "http://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz",
        "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",
    ]
    assert len(calls) == 8
    calls.clear()
    download("mnist", tmp_path, fetch=fetch)  # everything present and verified: nothing fetched
    assert calls == []


def test_corrupt_download_leaves_nothing_behind(shared_data: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad-mirror"
    _mnist_copy(shared_data, bad, corrupt=LABELS)
    with pytest.raises(DataError, match=f"could not download {LABELS}.*SHA256"):
        download("mnist", tmp_path / "data", mirror=(bad / "mnist").as_uri())
    assert not (tmp_path / "data").exists()  # not even the folders it would have made


def test_corrupt_download_into_an_existing_folder_keeps_only_what_was_there(shared_data: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad-mirror"
    _mnist_copy(shared_data, bad, corrupt=LABELS)
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    (folder / "README").write_text("mine")
    with pytest.raises(DataError, match=f"could not download {LABELS}.*SHA256"):
        download("mnist", tmp_path / "data", mirror=(bad / "mnist").as_uri())
    left = sorted(p.name for p in folder.iterdir())
    assert "README" in left and LABELS not in left and not [n for n in left if n.startswith(".")]


def test_no_network_leaves_no_empty_folder(tmp_path: Path) -> None:
    def offline(url: str, dest: Path) -> None:
        raise OSError("[Errno -3] Temporary failure in name resolution")

    with pytest.raises(DataError, match="could not download"):
        download("mnist", tmp_path / "cache" / "data", fetch=offline)
    assert not (tmp_path / "cache").exists()


def test_command_line_verify_and_download(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert data_cli.main(["verify", "mnist", "--data-dir", str(shared_data)]) == 0
    assert data_cli.main(["verify", "mnist", "--data-dir", str(tmp_path)]) == 1
    assert "error: MNIST not found" in capsys.readouterr().err
    mirror = (shared_data / "mnist").resolve().as_uri()
    assert data_cli.main(["download", "mnist", "--data-dir", str(tmp_path), "--mirror", mirror]) == 0
