"""The layering of model loading: backends load what they are given; rerank.loading decides what to convert.

Static checks parse the sources with ``ast`` (no import needed); a subprocess checks what a load actually imports.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rerank.backends import BACKENDS, onnx_backend, openvino_backend
from rerank.errors import ModelLoadError
from rerank.loading import load_model
from tests.rerank.test_backends import build_graph, copy_tokenizer

BACKENDS_DIR = Path(__file__).resolve().parents[2] / "rerank" / "backends"


def imported_modules(path: Path) -> list[tuple[str, str | None]]:
    """(module imported, enclosing function or None) for every import in a source file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = "rerank.backends"
    found: list[tuple[str, str | None]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inside = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.Import):
                found.extend((alias.name, function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    base = ".".join([*parts[: len(parts) - child.level + 1], base]).strip(".")
                found.append((base, function))
                found.extend((f"{base}.{alias.name}", function) for alias in child.names)
            visit(child, inside)

    visit(tree, None)
    return found


def test_backends_never_import_export_or_loading():
    sources = sorted(BACKENDS_DIR.glob("*.py"))
    assert {path.name for path in sources} >= {"__init__.py", "files.py", "onnx_backend.py", "torch_backend.py"}
    offending = [
        f"{path.name}: {module} (in {function or 'module scope'})"
        for path in sources
        for module, function in imported_modules(path)
        if module.startswith(("rerank.export", "rerank.loading"))
    ]
    assert offending == []


def test_the_import_parser_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("import os\n\ndef f():\n    from rerank.loading import load_model\n", encoding="utf-8")
    assert ("rerank.loading", "f") in imported_modules(source) and ("os", None) in imported_modules(source)


def test_files_imports_no_backend():
    modules = {module for module, _ in imported_modules(BACKENDS_DIR / "files.py")}
    backends = {module for module, _, _ in BACKENDS.values()}
    assert not modules & (backends | {"rerank.backends.torch_backend"})
    assert all(not module.startswith("rerank.") or module.startswith(("rerank.errors", "rerank.backends.base"))
               for module in modules), sorted(modules)  # fmt: skip


@pytest.fixture(scope="module")
def graph_dir(tmp_path_factory, mini_nli_dir) -> Path:
    directory = copy_tokenizer(mini_nli_dir, tmp_path_factory.mktemp("fp32-graph"))
    build_graph(directory / "model.onnx", 30522)
    return directory


def test_loading_an_onnx_graph_does_not_import_export(graph_dir, tmp_path):
    code = (
        "import sys\nfrom rerank.loading import load_model\n"
        f"model = load_model({str(graph_dir)!r}, backend='onnx')\n"
        "print(model.runner.backend, model.runner.precision, 'rerank.export' in sys.modules)"
    )
    env = {"NLI_RERANK_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.split() == ["onnx", "fp32", "False"]


@pytest.mark.parametrize("backend", [onnx_backend, openvino_backend])
def test_graph_backends_never_convert(backend, tiny_deberta_dir, tmp_path, monkeypatch):
    """Given PyTorch weights, a graph backend refuses them (pointing at the loader) and writes nothing."""
    monkeypatch.setenv("NLI_RERANK_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ModelLoadError, match=r"runs graphs as given.*rerank export"):
        backend.load(str(tiny_deberta_dir))
    assert not (tmp_path / "cache").exists()


def test_onnx_backend_runs_an_fp32_graph_as_given(graph_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("NLI_RERANK_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match=r"fp32 graph.*--quantize int8"):
        onnx_backend.load(str(graph_dir), precision="int8")
    assert not list((tmp_path / "cache").glob("*-onnx-int8"))


def test_loader_quantizes_an_fp32_graph_once_and_records_how_it_loaded(graph_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("NLI_RERANK_CACHE", str(tmp_path / "cache"))
    loaded = load_model(str(graph_dir), backend="onnx", precision="int8", threads=1)
    assert (loaded.runner.backend, loaded.runner.precision) == ("onnx", "int8")
    assert loaded.source == str(graph_dir) and Path(loaded.extra["graph"]).parent.parent == tmp_path / "cache"
    assert (loaded.device, loaded.threads) == ("cpu", 1)
    manifest = json.loads((Path(loaded.extra["graph"]).parent / "manifest.json").read_text())
    assert manifest["quantization"]["from"] == str(graph_dir / "model.onnx")
    again = load_model(str(graph_dir), backend="onnx", precision="int8")
    assert again.extra["graph"] == loaded.extra["graph"] and again.threads is None
    fp32 = load_model(str(graph_dir), backend="openvino")
    assert (fp32.device, fp32.threads, fp32.source) == ("cpu", None, str(graph_dir))


def test_torch_records_device_and_threads(tiny_deberta_dir):
    import torch

    before = torch.get_num_threads()
    try:
        loaded = load_model(str(tiny_deberta_dir), backend="torch", threads=1)
    finally:
        torch.set_num_threads(before)
    assert (loaded.device, loaded.threads) == ("cpu", 1)


def test_openvino_int8_of_pytorch_weights_is_refused_before_exporting(tiny_deberta_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("NLI_RERANK_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match=r"--format openvino --quantize int8 --calibration"):
        load_model(str(tiny_deberta_dir), backend="openvino", precision="int8")
    assert not (tmp_path / "cache").exists()
