#!/usr/bin/env bash
# The CUDA checks of the plastic network, the trainer and the PPO policies, for a GPU machine (issue 17, part 3).
#
#   bash benchmarks/gpu_check.sh [PYTHON]        # PYTHON defaults to .venv/bin/python, else python3
#
# 1. the parity tests on CUDA (tests/test_cuda.py: the sequence form against the CPU reference, the trainer's CPU
#    checkpoints, both PPO paths) and the CPU parity tests of the network, as a baseline (at most 110 s);
# 2. the throughput benchmark with --device cuda, quick (fast vs reference step, wall time, device memory; about
#    two minutes, at most 180 s; the LSTM reference left out).
# Everything runs under `timeout`, so the script ends within 5 minutes; the output is also written to
# $GPU_CHECK_LOG (default /tmp/gpu_check.log). Exits non-zero if CUDA is missing, a test fails or a step times out.
set -u -o pipefail
cd "$(dirname "$0")/.."
PY=${1:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
LOG=${GPU_CHECK_LOG:-/tmp/gpu_check.log}
export OMP_NUM_THREADS=1
{
  echo "== gpu_check $(date -u +%FT%TZ) on $(hostname)"
  "$PY" -c 'import torch, sys; ok = torch.cuda.is_available(); print("torch", torch.__version__, "cuda", torch.version.cuda,
"device", torch.cuda.get_device_name(0) if ok else None); sys.exit(0 if ok else 3)' || { echo "no CUDA device"; exit 3; }
  echo "== parity tests"
  timeout 110 "$PY" -m pytest tests/test_cuda.py tests/test_plastic_network.py -q -rs -p no:cacheprovider
  tests=$?
  echo "== throughput (cuda, quick)"
  timeout 180 "$PY" benchmarks/plastic_throughput.py --device cuda --quick --skip-lstm-reference
  bench=$?
  echo "== tests exit $tests, benchmark exit $bench"
  [ "$tests" -eq 0 ] && [ "$bench" -eq 0 ]
} 2>&1 | tee "$LOG"
