"""`python -m devkit.sandbox [--interactive]` (what `make sandbox` runs)."""

import argparse
import sys

from devkit.sandbox import run_sandbox

parser = argparse.ArgumentParser(
    prog="python -m devkit.sandbox", description="The real bot against local fakes."
)
parser.add_argument("--interactive", action="store_true", help="type /vs-terminate lines")
sys.exit(run_sandbox(interactive=parser.parse_args().interactive))
