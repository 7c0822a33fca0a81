"""`python -m lightning_autotune.cli ...`: the `lightning-autotune` command without installing."""

import sys

from lightning_autotune.cli import main

sys.exit(main())
