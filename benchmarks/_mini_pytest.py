"""Run a test module without pytest (a GPU machine may lack it and have no package index): just the subset of
pytest that ``tests/fused/triton/test_gpu.py`` uses -- ``mark.skipif``, ``mark.parametrize``, ``param``, ``raises``.

    python benchmarks/_mini_pytest.py tests/fused/triton/test_gpu.py
"""

from __future__ import annotations

import importlib.util
import re
import sys
import traceback
import types
from pathlib import Path


class _Param:
    def __init__(self, *values, id=None):
        self.values, self.id = values, id


class _Mark:
    def __init__(self, name, args, kwargs):
        self.name, self.args, self.kwargs = name, args, kwargs

    def __call__(self, fn):
        fn.__dict__.setdefault("_marks", []).append(self)
        return fn


class _Marks:
    def __getattr__(self, name):
        return lambda *a, **k: _Mark(name, a, k)


class _Raises:
    def __init__(self, exc, match=None):
        self.exc, self.match = exc, match

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            raise AssertionError(f"did not raise {self.exc.__name__}")
        return issubclass(et, self.exc) and not (self.match and not re.search(self.match, str(ev)))


def _shim() -> types.ModuleType:
    m = types.ModuleType("pytest")
    m.mark, m.param, m.raises = _Marks(), _Param, _Raises
    return m


def _cases(fn):
    cases = [((), "")]
    for mark in reversed(fn.__dict__.get("_marks", [])):
        if mark.name != "parametrize":
            continue
        names = [n.strip() for n in (mark.args[0].split(",") if isinstance(mark.args[0], str) else mark.args[0])]
        new = []
        for vals, ident in cases:
            for v in mark.args[1]:
                pv = v.values if isinstance(v, _Param) else (v if len(names) > 1 else (v,))
                pid = v.id if isinstance(v, _Param) and v.id else "-".join(map(str, pv))
                new.append(((*vals, *zip(names, pv, strict=True)), f"{ident}[{pid}]"))
        cases = new
    return cases


def main(path: str) -> int:
    root = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(root / "tests"), str(root / "src")]
    sys.modules["pytest"] = _shim()
    spec = importlib.util.spec_from_file_location("gpu_tests", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for mark in getattr(mod, "pytestmark", []) and [mod.pytestmark]:
        if mark.name == "skipif" and mark.args[0]:
            print(f"all skipped: {mark.kwargs.get('reason')}")
            return 0
    passed = failed = 0
    for name in [n for n in dir(mod) if n.startswith("test_")]:
        fn = getattr(mod, name)
        for args, ident in _cases(fn):
            try:
                fn(**dict(args))
                passed += 1
                print(f"PASSED {name}{ident}", flush=True)
            except Exception:
                failed += 1
                print(f"FAILED {name}{ident}\n{traceback.format_exc()}", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
