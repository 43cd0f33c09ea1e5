"""``import eval`` stays light: no torch, no model backend, no scipy or matplotlib until they are used."""

from __future__ import annotations

import subprocess
import sys


def test_import_eval_loads_no_heavy_packages():
    heavy = ("torch", "scipy", "matplotlib", "transformers")
    code = f"import sys, eval; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
