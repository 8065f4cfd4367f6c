#!/usr/bin/env bash
# The whole GPU check in one device call (under 10 minutes): environment, the GPU tests, the benchmark.
#
#   bash benchmarks/gpu_check.sh            # results under $OUT (the device tool's folder) or ./gpu-out
#
# Needs torch with CUDA and triton on the machine (a CUDA build of torch brings triton); runs ravine from src/
# without installing it, and the tests with pytest if present, else with benchmarks/_mini_pytest.py.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu-out}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export RAVINE_CACHE="$OUT/cache"
PY="${PYTHON:-python3}"

{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  "$PY" -c "import torch, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'triton', triton.__version__)"
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

# 1. Correctness on the device (within 1 ulp of the reference path, CUDA graphs, no recompiles): about 1-2 min.
if "$PY" -c "import pytest" 2>/dev/null; then
  timeout 200 "$PY" -m pytest tests/fused/triton/test_gpu.py -q -s -p no:cacheprovider -rA >"$OUT/gpu_tests.txt" 2>&1
else
  timeout 200 "$PY" benchmarks/_mini_pytest.py tests/fused/triton/test_gpu.py >"$OUT/gpu_tests.txt" 2>&1
fi
echo "tests: exit $?"
tail -n 15 "$OUT/gpu_tests.txt"

# 2. The benchmark: roof, 10M/100M/1B, every optimiser, every torch mode; compile time-boxed: about 4-6 min.
timeout 360 "$PY" benchmarks/optimizer_step.py --device cuda --compile-budget 90 >"$OUT/benchmark.md" 2>"$OUT/benchmark.err"
echo "benchmark: exit $?"
grep -A 40 "^## Summary" "$OUT/benchmark.md" || tail -n 40 "$OUT/benchmark.md"
tail -n 5 "$OUT/benchmark.err"
