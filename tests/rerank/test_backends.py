"""Backends: registry and auto choice, ONNX-only directories, precisions, and clear errors.

Small hand-built ONNX graphs (a masked mean of a random embedding table, computed again here in numpy) check what
the ONNX and OpenVINO runners are fed without any export; real exports are tested in test_export.py.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rerank.backends import AUTO_ORDER, BACKENDS, DYNAMIC_INT8_ORDER, files
from rerank.errors import MissingDependencyError, ModelLoadError
from rerank.loading import choose_backend, load_model
from rerank.nli_reranker import NLIReranker, softmax
from rerank.relevance_reranker import RelevanceReranker
from rerank.scorer import CrossEncoderScorer

MS_MARCO = Path(__file__).resolve().parents[2] / ".." / "shared" / "models" / "ms-marco-MiniLM-L-12-v2-int8"
PREMISES = ["A man is playing a guitar on stage.", "The cat sleeps.", "Water boils at 100 degrees at sea level."]
HYPOTHESES = ["Someone makes music.", "An animal is awake.", "Boiling depends on pressure."]
ORDER = ["contradiction", "entailment", "neutral"]


def build_graph(path: Path, vocab: int, *, width: int | str = 3, token_types: bool = False, int32: bool = False):
    """Save an ONNX graph computing logits = masked mean over tokens of E[input_ids]; returns E."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    table = np.random.default_rng(0).normal(size=(vocab, 3)).astype(np.float32)
    kind = TensorProto.INT32 if int32 else TensorProto.INT64
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if token_types else [])
    inputs = [helper.make_tensor_value_info(name, kind, ["batch", "sequence"]) for name in names]
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["embedded"]),
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["embedded", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["total"], keepdims=0),
        helper.make_node("ReduceSum", ["mask3", "axis1"], ["count"], keepdims=0),
        helper.make_node("Div", ["total", "count"], ["logits"]),
    ]
    initializers = [
        numpy_helper.from_array(table, "table"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
    ]
    output = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", width])
    graph = helper.make_graph(nodes, "masked_mean", inputs, [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return table


def expected_logits(tokenizer, table: np.ndarray) -> np.ndarray:
    rows = [tokenizer(p, h)["input_ids"] for p, h in zip(PREMISES, HYPOTHESES, strict=True)]
    return np.stack([table[ids].mean(axis=0) for ids in rows])


def copy_tokenizer(source: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(source / name, target / name)
    return target


@pytest.fixture(scope="module")
def graph_dir(tmp_path_factory, mini_nli_dir):
    """A config-less ONNX-only directory: model.onnx + tokenizer."""
    directory = copy_tokenizer(mini_nli_dir, tmp_path_factory.mktemp("graph"))
    table = build_graph(directory / "model.onnx", 30522)
    return directory, table


def test_registry_and_auto_order():
    assert set(AUTO_ORDER) <= set(BACKENDS) and AUTO_ORDER[-1] == "torch"
    assert {"torch", "onnx", "openvino"} <= set(BACKENDS)
    with pytest.raises(ValueError, match=r"unknown backend 'tensorrt'.*'onnx'.*'openvino'"):
        load_model("whatever", backend="tensorrt")


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(BACKENDS, "fake", ("rerank.backends.onnx_backend", "no_such_package_xyz", "nli-rerank[fake]"))
    with pytest.raises(MissingDependencyError, match=r"pip install 'nli-rerank\[fake\]'"):
        load_model("model", backend="fake")


def test_import_rerank_loads_no_backend_package():
    code = (
        "import sys, rerank, rerank.backends, rerank.cache, rerank.export, rerank.loading, rerank.backends.files, "
        "rerank.backends.onnx_backend, rerank.backends.openvino_backend, rerank.backends.torch_backend\n"
        "print(sorted(m for m in ('torch', 'onnxruntime', 'openvino', 'onnx', 'nncf') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_auto_choice_follows_the_format(graph_dir, tiny_deberta_dir):
    directory, _ = graph_dir
    assert choose_backend(str(directory)) == AUTO_ORDER[0]
    assert choose_backend(str(directory / "model.onnx")) == AUTO_ORDER[0]
    assert choose_backend(str(tiny_deberta_dir)) == "torch"  # auto never converts PyTorch weights
    assert choose_backend(str(directory), precision="int8") == "onnx"  # only onnxruntime quantizes on the fly
    assert choose_backend(str(tiny_deberta_dir), device="cuda") == "torch"


def test_auto_sends_dynamic_int8_graphs_to_onnxruntime(tmp_path, mini_nli_dir):
    """A graph quantized dynamically for onnxruntime (MatMulInteger) runs faster there than in OpenVINO."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    weights = np.random.default_rng(1).normal(size=(64, 64)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["features", "weights"], ["logits"])],
        "projection",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 64])],
        [numpy_helper.from_array(weights, "weights")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    fp32 = copy_tokenizer(mini_nli_dir, tmp_path / "fp32")
    int8 = copy_tokenizer(mini_nli_dir, tmp_path / "int8")
    onnx.save(model, str(fp32 / "model.onnx"))
    quantize_dynamic(str(fp32 / "model.onnx"), str(int8 / "model.onnx"), weight_type=QuantType.QInt8)

    assert files.is_dynamic_int8_onnx(int8 / "model.onnx")
    assert not files.is_dynamic_int8_onnx(fp32 / "model.onnx")
    assert choose_backend(str(int8)) == DYNAMIC_INT8_ORDER[0] == "onnx"
    assert choose_backend(str(fp32)) == AUTO_ORDER[0]
    if MS_MARCO.is_dir():  # the shared int8 MS MARCO MiniLM is such a graph
        assert choose_backend(str(MS_MARCO)) == "onnx"


def test_onnx_only_directory_needs_labels(graph_dir):
    directory, _ = graph_dir
    loaded = load_model(str(directory))
    assert loaded.num_logits == 3 and loaded.id2label == {}
    with pytest.raises(ValueError, match=r"labels=\["):
        NLIReranker(loaded)


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_graph_parity_with_numpy(graph_dir, backend):
    directory, table = graph_dir
    reranker = NLIReranker(str(directory), backend=backend, labels=ORDER, show_progress=False, batch_size=2)
    assert reranker.model.runner.backend == backend and reranker.model.runner.precision == "fp32"
    expected = softmax(expected_logits(reranker.model.tokenizer, table).astype(np.float64))
    got = reranker.score_pairs(PREMISES, HYPOTHESES)
    np.testing.assert_allclose(got[:, 0], expected[:, 1], atol=1e-5)  # entailment is logit 1
    np.testing.assert_allclose(got[:, 2], expected[:, 0], atol=1e-5)  # contradiction is logit 0


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_symbolic_width_token_types_and_int32_inputs(tmp_path, mini_nli_dir, backend):
    directory = copy_tokenizer(mini_nli_dir, tmp_path / "model")
    table = build_graph(directory / "model.onnx", 30522, width="labels", token_types=True, int32=True)
    loaded = load_model(str(directory), backend=backend)
    assert loaded.num_logits == 3
    assert set(loaded.runner.input_names) == {"input_ids", "attention_mask", "token_type_ids"}
    logits = CrossEncoderScorer(loaded, show_progress=False).logits(PREMISES, HYPOTHESES)
    np.testing.assert_allclose(logits, expected_logits(loaded.tokenizer, table), atol=1e-5)


@pytest.mark.parametrize("backend", ["auto", "onnx", "openvino"])
def test_corrupt_model_onnx_is_a_clear_error(tmp_path, mini_nli_dir, backend):
    directory = copy_tokenizer(mini_nli_dir, tmp_path / "broken")
    (directory / "model.onnx").write_bytes(b"this is not a protobuf graph \x00\x01\x02")
    with pytest.raises(ModelLoadError, match=r"(?s)model\.onnx.*re-create"):
        load_model(str(directory), backend=backend)


def test_graph_without_tokenizer(tmp_path):
    build_graph(tmp_path / "model.onnx", 100)
    with pytest.raises(ModelLoadError, match="no tokenizer"):
        load_model(str(tmp_path), backend="onnx")


def test_directory_with_neither_graph_nor_weights(tmp_path):
    (tmp_path / "README").write_text("empty")
    for backend in ("onnx", "openvino"):
        with pytest.raises(ModelLoadError, match="neither"):
            load_model(str(tmp_path), backend=backend)
    with pytest.raises(ModelLoadError, match="no-such-dir"):
        load_model(str(tmp_path / "no-such-dir"), backend="onnx")


def test_unsupported_precisions_and_devices(graph_dir):
    directory, _ = graph_dir
    with pytest.raises(ValueError, match="bf16"):
        load_model(str(directory), backend="onnx", precision="bf16")
    with pytest.raises(ValueError, match="rerank export"):
        load_model(str(directory), backend="openvino", precision="int8")
    with pytest.raises(ValueError, match="CPU only"):
        load_model(str(directory), backend="onnx", device="cuda")
    with pytest.raises(ValueError, match="precision"):
        load_model(str(directory), backend="torch", precision="fp16")


def test_ms_marco_int8_scores_as_relevance():
    if not MS_MARCO.is_dir():
        pytest.skip(f"{MS_MARCO} is absent (it comes from the project's shared/ folder)")
    reranker = RelevanceReranker(str(MS_MARCO), show_progress=False)
    assert reranker.model.runner.precision == "int8" and reranker.model.num_logits == 1
    query = "what lowers blood pressure"
    docs = ["Beta blockers and ACE inhibitors lower blood pressure.", "The Eiffel tower is in Paris."]
    scores = reranker.score(query, docs)
    assert scores[0] > 0.5 > scores[1]
    other = "onnx" if reranker.model.runner.backend == "openvino" else "openvino"
    np.testing.assert_allclose(RelevanceReranker(str(MS_MARCO), backend=other).score(query, docs), scores, atol=0.05)
    with pytest.raises(ValueError, match="single output logit"):
        NLIReranker(str(MS_MARCO))


def test_torch_bf16_on_tiny_deberta(tiny_deberta_dir):
    reference = NLIReranker(str(tiny_deberta_dir), backend="torch", show_progress=False)
    other = NLIReranker(str(tiny_deberta_dir), backend="torch", precision="bf16", show_progress=False)
    assert other.model.runner.precision == "bf16"
    np.testing.assert_allclose(
        other.score_pairs(PREMISES, HYPOTHESES), reference.score_pairs(PREMISES, HYPOTHESES), atol=0.05
    )
    with pytest.raises(ValueError, match="precision"):
        load_model(str(tiny_deberta_dir), backend="torch", precision="int8")


def snli_pairs(shared_dir: Path, n: int) -> tuple[list[str], list[str]]:
    import csv

    with (shared_dir / "data" / "nli" / "snli_test.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[:n]
    return [row["premise"] for row in rows], [row["hypothesis"] for row in rows]


def test_torch_bf16_keeps_mini_nli_predictions(mini_nli_dir, shared_dir):
    """bf16 keeps 8 mantissa bits: probabilities move by a few hundredths, predictions almost never."""
    premises, hypotheses = snli_pairs(shared_dir, 40)
    reference = NLIReranker(str(mini_nli_dir), backend="torch", show_progress=False).score_pairs(premises, hypotheses)
    other = NLIReranker(str(mini_nli_dir), backend="torch", precision="bf16", show_progress=False)
    got = other.score_pairs(premises, hypotheses)
    assert (got.argmax(axis=1) == reference.argmax(axis=1)).mean() >= 0.95
    assert np.abs(got[:, 0] - reference[:, 0]).max() < 0.15
