#!/usr/bin/env bash
# Build the environment of the peers whose pins conflict with ours (Ax pins BoTorch): Ax, HEBO,
# SMAC3. benchmarks/_external.py runs them from it (AUTOTUNE_PEERS_PYTHON, default below).
# HEBO 0.3.6 pins numpy<1.25 and pymoo==0.6.0, which do not install next to current torch on
# Python 3.11; it is installed without its pins and runs with the versions below.
set -euo pipefail
VENV=${1:-/work/venv-peers}
python3.11 -m venv "$VENV"
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q ax-platform==1.3.1 optuna==5.1.0 greenlet
"$VENV/bin/pip" install -q smac==2.4.1
"$VENV/bin/pip" install -q --no-deps hebo==0.3.6
"$VENV/bin/pip" install -q pandas pymoo==0.6.2 scikit-learn disjoint-set
