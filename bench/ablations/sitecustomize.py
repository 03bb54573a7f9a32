"""Applies the ablations named in `VS_BENCH_ABLATIONS` (comma-separated) at interpreter start-up.

Python imports one `sitecustomize` module, the first on `sys.path`; `bench/ab.py` puts this
directory first on the ablated bot's `PYTHONPATH`, so any number of ablations can be combined.
"""

import importlib
import os

for name in filter(None, os.environ.get("VS_BENCH_ABLATIONS", "").split(",")):
    importlib.import_module(name)
