"""The Ray backend against the process pool, its outside reference: the same records bit for bit (timings aside),
resume after an interruption, ``ravine compare TASK --backend ray`` end to end, workers that import this very
ravine, and one clear line when Ray is not installed.

One local Ray serves the module (it takes seconds to start on 2 cores); the tests that need Ray skip, saying so,
where it is not installed.
"""

from __future__ import annotations

import doctest
import json
import os
import re
import shlex
import shutil
import signal
import site
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import ravine
from ravine.cli.app import app
from ravine.lab.backends import Kind, MissingExtra, Pool, make, ray_tasks
from ravine.lab.tasks import TASKS, Event, Protocol, RunFailed, RunStore, compare

QUAD = TASKS["quadratic-deep"]
PROTOCOL = Protocol(("sgd", "adam"), lr_grid=(0.003, 0.03, 1.0), seeds=2, epochs=2)
CLI_PROTOCOL = ["-o", "sgd,adam", "--lr-grid", "0.003,0.03,1", "--seeds", "2", "--epochs", "2"]
TIMINGS = {"wall_s", "train_s", "reached_s", "seconds"}  # what a run measures of its machine, not of training
# The suite writes nothing to the home directory: no auth token (a local test Ray needs none), no usage stats.
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
NO_RAY = "Ray is not installed (pip install 'ravine[ray]'): the Ray backend is not tested here"


def _measured(x: Any) -> Any:
    """``x`` without its timings: what must be bit-identical whichever backend ran the runs."""
    if isinstance(x, dict):
        return {k: _measured(v) for k, v in x.items() if k not in TIMINGS}
    if isinstance(x, list):
        return [_measured(v) for v in x]
    return x


def _compare_cli(out: Path, *more: str) -> tuple[int, str, dict | None]:
    res = CliRunner().invoke(app, ["compare", "quadratic-deep", *CLI_PROTOCOL, "--out", str(out), *more],
                             env={"COLUMNS": "200"})  # fmt: skip
    doc = json.loads((out / "results.json").read_text()) if (out / "results.json").is_file() else None
    return res.exit_code, res.output, doc


@pytest.fixture(scope="module")
def local_ray() -> Any:
    """A local Ray of 2 CPUs, started as the backend starts one (``ray_tasks.connect``), for the whole module."""
    ray = pytest.importorskip("ray", reason=NO_RAY)
    temp = tempfile.mkdtemp(prefix="rv", dir="/tmp")  # a short path: Ray's sockets live there
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {**RAY_ENV, "RAY_TMPDIR": temp}.items():
            mp.setenv(k, v)
        with pytest.MonkeyPatch.context() as no_path:
            # Only connect()'s runtime environment may tell the workers where this ravine is (the shared venv's
            # editable install points at another checkout).
            no_path.delenv("PYTHONPATH", raising=False)
            started = ray_tasks.connect(None, num_cpus=2)
        yield ray
        if started:
            ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The reference: the comparison on the process pool (2 workers), through the command line."""
    code, output, doc = _compare_cli(tmp_path_factory.mktemp("pool"), "--workers", "2")
    assert code == 0, output
    assert doc["environment"]["backend"] == "pool" and len(doc["runs"]) == 14
    return doc


def test_workers_import_this_ravine(local_ray: Any) -> None:
    path, fingerprint = local_ray.get(local_ray.remote(ray_tasks.where).remote())
    assert Path(path).resolve() == Path(ravine.__file__).resolve()
    assert fingerprint == ray_tasks.source_fingerprint()


def test_a_local_rays_workers_get_this_ravines_directory_unless_it_is_site_packages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    here = Path(ravine.__file__).resolve().parent
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(["/elsewhere", str(here.parent)]))
    assert ray_tasks._local_env(here) == {"env_vars": {"PYTHONPATH": os.pathsep.join([str(here.parent), "/elsewhere"])}}
    assert ray_tasks._local_env(Path(site.getsitepackages()[0]).resolve() / "ravine") == {}


def test_a_worker_with_another_ravine_fails_its_run_with_both_fingerprints() -> None:
    spec = PROTOCOL.resolve(QUAD).grid_runs(QUAD, "sgd")[0]
    key, record, error = ray_tasks.run_on_worker([None], spec, "0" * 16)
    assert key == spec.key() and record is None
    assert f"fingerprint {ray_tasks.source_fingerprint()} != {'0' * 16}" in error.splitlines()[-1]


def test_the_command_line_on_ray_gives_the_pools_results(local_ray: Any, pool: dict, tmp_path: Path) -> None:
    code, output, doc = _compare_cli(tmp_path / "ray", "--backend", "ray", "--workers", "2")
    assert code == 0, output
    assert doc["environment"]["backend"] == "ray" and doc["environment"]["workers"] == 2
    assert [r["key"] for r in doc["runs"]] == [r["key"] for r in pool["runs"]]
    assert _measured(doc["runs"]) == _measured(pool["runs"])  # curves, finals, findings: the same bits
    assert _measured(doc["summary"]) == _measured(pool["summary"])  # the same ranking, rates and statistics
    assert doc["protocol"] == pool["protocol"] and doc["complete"]
    # Rerun: every run is found in the store, none runs again (and no Ray is needed).
    code, output, again = _compare_cli(tmp_path / "ray", "--backend", "ray")
    assert code == 0 and "resuming: 14 finished runs" in output
    assert _measured(again["runs"]) == _measured(doc["runs"])
    assert local_ray.is_initialized()  # a Ray the backend did not start is left running


def test_an_interrupted_ray_comparison_resumes_without_recomputing(local_ray: Any, pool: dict, tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    finished = []

    def interrupt_after_five(e: Event) -> None:
        if e.kind == "finish":
            finished.append(e.spec)
            if len(finished) == 5:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # the runs still in flight are cancelled
        compare(QUAD, PROTOCOL, RunStore(path), backend=make(Kind.RAY, workers=2), on_event=interrupt_after_five)
    assert len(RunStore(path)) == 5
    events: list[Event] = []
    res = compare(QUAD, PROTOCOL, RunStore(path), backend=make(Kind.RAY, workers=2), on_event=events.append)
    assert sum(e.kind == "cached" for e in events) == 5 and sum(e.kind == "finish" for e in events) == 9
    assert {e.spec.key() for e in events if e.kind == "finish"}.isdisjoint(s.key() for s in finished)
    assert _measured(res["runs"]) == _measured(pool["runs"])
    assert len(RunStore(path)) == 14


def test_a_failing_ray_run_stops_the_comparison_with_its_cause(local_ray: Any, tmp_path: Path) -> None:
    # torch.optim.LBFGS needs a closure; the task loop does not give one (the pool's test of the same failure).
    bad = Protocol(("torch.LBFGS",), lr_grid=(0.01,), seeds=1, epochs=1, defaults=False)
    with pytest.raises(RunFailed, match=r"^run torch.LBFGS lr=0.01 seed 0 failed: TypeError: .*closure") as e:
        compare(QUAD, bad, RunStore(tmp_path / "runs.jsonl"), backend=make(Kind.RAY, workers=1))
    assert "\n" not in str(e.value) and "Traceback" in e.value.details


def test_without_ray_the_backend_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(MissingExtra, match=r"needs Ray, which is not installed: pip install 'ravine\[ray\]'$"):
        make(Kind.RAY)
    code, output, doc = _compare_cli(tmp_path, "--backend", "ray")
    assert code == 1 and doc is None
    assert output.strip() == "error: the ray backend needs Ray, which is not installed: pip install 'ravine[ray]'"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--address", "auto"], "error: --address applies to --backend ray"),
        (["--backend", "dask"], "error: Invalid value for '--backend': must be one of pool, ray, got 'dask'"),
    ],
)
def test_backend_options_are_checked(tmp_path: Path, args: list[str], message: str) -> None:
    res = CliRunner().invoke(app, ["compare", "quadratic-deep", "--out", str(tmp_path), *args])
    assert res.exit_code == 2 and message in res.stderr and not (tmp_path / "results.json").exists()
    res = CliRunner().invoke(app, ["compare", "bowl", "--backend", "Pool", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--backend applies to tasks, not to landscapes" in res.stderr


def test_the_examples_of_the_backends_docstring() -> None:
    from ravine.lab import backends

    failed, tried = doctest.testmod(backends)
    assert tried > 0 and failed == 0


def test_backends_check_their_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="address applies to the ray backend only"):
        make(Kind.POOL, address="auto")
    with pytest.raises(ValueError, match="workers must be an integer >= 1, got 0"):
        make(Kind.POOL, workers=0)
    with pytest.raises(ValueError, match="give the workers to the backend"):
        compare(QUAD, PROTOCOL, RunStore(tmp_path / "r.jsonl"), workers=2, backend=Pool(2))


def _recipes() -> tuple[list[str], str]:
    """The Ray section of docs/distributed.md: its command lines and its Python block."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "distributed.md").read_text(encoding="utf-8")
    section = doc.split("## Ray", 1)[1].split("\n## ", 1)[0]
    shell = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    commands = [shlex.split(line.split("#", 1)[0]) for line in shell.strip().splitlines()]
    return commands, re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)


def test_the_recipes_of_the_docs_give_the_pools_results(
    local_ray: Any, pool: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands, python = _recipes()
    monkeypatch.chdir(tmp_path)
    local = commands[0]
    assert local[:2] == ["ravine", "compare"] and "--address" not in local
    res = CliRunner().invoke(app, [*local[1:], "--out", "cli"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "cli" / "results.json").read_text())
    assert doc["environment"]["backend"] == "ray" and _measured(doc["runs"]) == _measured(pool["runs"])
    scope: dict[str, Any] = {}
    exec(compile(python, "docs/distributed.md", "exec"), scope)
    assert scope["res"]["environment"]["backend"] == "ray"
    assert _measured(scope["res"]["runs"]) == _measured(pool["runs"])
    assert (tmp_path / "ray-sweep" / "runs.jsonl").is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_on_a_cluster_ravine_ships_itself_to_the_workers(pool: dict, tmp_path: Path) -> None:
    """``--address``: a Ray head started apart (``ray start``), whose workers cannot see this checkout, runs the
    comparison; ravine sends its package along (``py_modules``), and the records are the pool's."""
    pytest.importorskip("ray", reason=NO_RAY)
    commands, _ = _recipes()
    remote = commands[1]
    assert remote[:2] == ["ravine", "compare"] and "--address" in remote
    port, temp = _free_port(), tempfile.mkdtemp(prefix="rv", dir="/tmp")  # a short path: Ray's sockets live there
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the cluster's workers don't see this ravine
    env.update(RAY_ENV)
    head = subprocess.Popen(
        [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", f"--port={port}", "--num-cpus=2",
         "--node-ip-address=127.0.0.1", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}",
         "--block"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        for line in head.stdout:  # wait until the head is up
            if "Ray runtime started" in line:
                break
        assert head.poll() is None, "ray start failed"
        args = [*remote[1:], *CLI_PROTOCOL, "--out", str(tmp_path / "o")]
        args[args.index("--address") + 1] = f"127.0.0.1:{port}"
        src = str(Path(ravine.__file__).resolve().parents[1])
        driver = subprocess.run(
            [sys.executable, "-c", "from ravine.cli import main; main()", *args],
            env={**env, "PYTHONPATH": src}, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert driver.returncode == 0, driver.stdout + driver.stderr
    finally:
        head.terminate()  # --block: the head stops its processes and leaves
        head.wait(timeout=60)
        shutil.rmtree(temp, ignore_errors=True)
    doc = json.loads((tmp_path / "o" / "results.json").read_text())
    assert doc["environment"]["backend"] == "ray" and doc["environment"]["workers"] == 2  # the cluster's CPUs
    assert _measured(doc["runs"]) == _measured(pool["runs"])


def test_ctrl_c_stops_the_local_ray_it_started_and_keeps_the_finished_runs(tmp_path: Path) -> None:
    """SIGINT to ``ravine compare TASK --backend ray`` in the middle of its runs: exit 130, the runs finished so
    far stored, and none of the local Ray's processes left behind."""
    pytest.importorskip("ray", reason=NO_RAY)
    temp = tempfile.mkdtemp(prefix="rv", dir="/tmp")  # this Ray's session lives here: its processes name it
    src = str(Path(ravine.__file__).resolve().parents[1])
    env = {**os.environ, **RAY_ENV, "PYTHONPATH": src, "RAY_TMPDIR": temp}
    out = tmp_path / "o"
    cmd = ["compare", "quadratic-deep", *CLI_PROTOCOL[:-1], "300", "--backend", "ray", "--workers", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-c", "from ravine.cli import main; main()", *cmd, "--out", str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not (out / "runs.jsonl").is_file() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)  # the first run of 14 (300 epochs each) is stored
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    stored = len(RunStore(out / "runs.jsonl"))
    assert proc.returncode == 130, output
    assert f"interrupted: {stored} finished runs are saved" in output and 1 <= stored < 14
    left = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert temp not in left  # raylet, GCS and workers are gone
    shutil.rmtree(temp, ignore_errors=True)
