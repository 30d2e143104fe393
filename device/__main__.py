"""`python -m device --config trap.toml`: the trap's entry point on the Pi."""

import sys

from device.main import run

sys.exit(run())
