"""Fast by default: pre-converted graphs (directory, fake hub cache, fake online hub), export on first use, and
precision "auto" (bf16 only with bf16 units and a passing check, kept per model and machine kind).

The pre-converted graphs are small hand-built ONNX graphs (logits = masked mean of E[input_ids] @ W, so dynamic
int8 quantization has a MatMul to quantize) laid out as sentence-transformers ships them; exports use the tiny
DeBERTa fixture. Nothing touches the network: the online hub is a local folder behind huggingface_hub's calls.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rerank import cpu
from rerank.backends import AUTO_ORDER, layout
from rerank.backends.fingerprint import weights_fingerprint
from rerank.export import precision as checks
from rerank.export.cache import forget_refusal, refusal
from rerank.export.errors import ExportError
from rerank.loading import choose_graph, load_model, plan_load
from rerank.nli_reranker import NLIReranker
from rerank.options import ModelOptions
from tests.conftest import NLI_ORDER, build_tiny_deberta
from tests.rerank.fake_hub import add_file, add_snapshot
from tests.rerank.test_backends import HYPOTHESES, PREMISES, copy_tokenizer

XEON = cpu.CPUInfo("Intel Xeon", 2, frozenset({"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16"}))
EPYC = cpu.CPUInfo("AMD EPYC", 2, frozenset({"avx2", "fma"}))
GRAVITON = cpu.CPUInfo("Neoverse", 2, frozenset({"asimd"}))
INT8_FILES = [f"onnx/model_{variant}.onnx" for variant, _ in cpu.INT8_VARIANTS]
# What cross-encoder/nli-deberta-v3-small ships (sentence-transformers layout), for the name-only tests.
HUB_NAMES = [".gitattributes", "README.md", "config.json", "model.safetensors", "spm.model", "tokenizer.json",
             "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "onnx/model.onnx",
             *[f"onnx/model_O{level}.onnx" for level in range(1, 5)], *INT8_FILES, "openvino/openvino_model.xml",
             "openvino/openvino_model.bin", "openvino/openvino_model_qint8_quantized.xml",
             "openvino/openvino_model_qint8_quantized.bin"]  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def auto_export_on():
    """The suite turns automatic export off (tests/conftest.py); this module is about it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NLI_RERANK_AUTO_EXPORT", "1")
        yield


def build_projection_graph(path: Path, vocab: int, width: int = 16) -> None:
    """An ONNX graph: logits = (masked mean over tokens of E[input_ids]) @ W, E (vocab, width), W (width, 3)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    table = rng.normal(size=(vocab, width)).astype(np.float32)
    weights = rng.normal(size=(width, 3)).astype(np.float32) * 4
    names = ["input_ids", "attention_mask"]
    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"]) for name in names]
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["embedded"]),
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["embedded", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["total"], keepdims=0),
        helper.make_node("ReduceSum", ["mask3", "axis1"], ["count"], keepdims=0),
        helper.make_node("Div", ["total", "count"], ["pooled"]),
        helper.make_node("MatMul", ["pooled", "weights"], ["logits"]),
    ]
    initializers = [
        numpy_helper.from_array(table, "table"),
        numpy_helper.from_array(weights, "weights"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
    ]
    output = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])
    graph = helper.make_graph(nodes, "projection", inputs, [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.fixture(scope="module")
def st_dir(tmp_path_factory, mini_nli_dir) -> Path:
    """A model directory in the sentence-transformers layout: config + tokenizer at the root (no weights),
    onnx/model.onnx, onnx/model_O4.onnx, the four int8 variants and openvino/openvino_model.xml."""
    import openvino as ov
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = copy_tokenizer(mini_nli_dir, tmp_path_factory.mktemp("st-layout"))
    config = {"id2label": {str(k): v for k, v in NLI_ORDER.items()}, "max_position_embeddings": 512}
    (root / "config.json").write_text(json.dumps(config))
    (root / "onnx").mkdir()
    (root / "openvino").mkdir()
    build_projection_graph(root / "onnx" / "model.onnx", 30522)
    shutil.copy(root / "onnx" / "model.onnx", root / "onnx" / "model_O4.onnx")  # never chosen on a CPU
    for name in INT8_FILES:
        quantize_dynamic(str(root / "onnx" / "model.onnx"), str(root / name), weight_type=QuantType.QInt8)
    ir = ov.convert_model(str(root / "onnx" / "model.onnx"))
    ov.save_model(ir, str(root / "openvino" / "openvino_model.xml"), compress_to_fp16=False)
    return root


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NLI_RERANK_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_layout_names_the_sentence_transformers_files():
    found = {graph.name: (graph.format, graph.precision, graph.variant) for graph in layout.graphs(HUB_NAMES)}
    assert found["onnx/model.onnx"] == ("onnx", "fp32", "")
    assert found["onnx/model_O3.onnx"] == ("onnx", "fp32", "O3") and found["onnx/model_O4.onnx"][1] == "fp16"
    assert found["onnx/model_qint8_avx512_vnni.onnx"] == ("onnx", "int8", "qint8_avx512_vnni")
    assert found["onnx/model_quint8_avx2.onnx"][1] == "int8"
    assert found["openvino/openvino_model.xml"] == ("openvino", "fp32", "")
    assert found["openvino/openvino_model_qint8_quantized.xml"][1] == "int8"
    assert len(found) == 1 + 4 + 4 + 2, "README, weights and tokenizer files are not graphs"
    ir = layout.graphs(["openvino/openvino_model.xml"])[0]
    assert layout.companions(ir, HUB_NAMES) == ["openvino/openvino_model.bin"]
    metadata = ["config.json", "tokenizer.json", "tokenizer_config.json", "spm.model", "special_tokens_map.json",
                "added_tokens.json"]  # fmt: skip
    assert layout.metadata_files(HUB_NAMES) == metadata
    assert layout.graphs(["onnx/model_bnb4.onnx", "model.onnx"])[0].name == "model.onnx"


@pytest.mark.parametrize(
    ("info", "precision", "backends", "expected"),
    [
        (XEON, "auto", ["openvino", "onnx"], ("openvino", "openvino/openvino_model.xml")),
        (XEON, "bf16", ["openvino", "onnx"], ("openvino", "openvino/openvino_model.xml")),
        (EPYC, "auto", ["openvino", "onnx"], ("openvino", "openvino/openvino_model.xml")),
        (EPYC, "bf16", ["openvino", "onnx"], None),  # no bf16 units: torch would emulate it
        (XEON, "auto", ["onnx"], ("onnx", "onnx/model.onnx")),
        (XEON, "bf16", ["onnx"], None),
        (XEON, "int8", ["openvino"], ("openvino", "openvino/openvino_model_qint8_quantized.xml")),
        (XEON, "int8", ["onnx", "openvino"], ("onnx", "onnx/model_qint8_avx512_vnni.onnx")),
        (EPYC, "int8", ["onnx"], ("onnx", "onnx/model_quint8_avx2.onnx")),
        (GRAVITON, "int8", ["onnx"], ("onnx", "onnx/model_qint8_arm64.onnx")),
    ],
)
def test_choose_graph_follows_cpu_precision_and_backends(info, precision, backends, expected):
    picked = choose_graph(layout.graphs(HUB_NAMES), precision, backends, info)
    assert ((picked[0], picked[1].name) if picked else None) == expected


def test_choose_graph_never_picks_int8_or_fp16_unless_asked():
    only_reduced = layout.graphs(["onnx/model_O4.onnx", *INT8_FILES])
    assert choose_graph(only_reduced, "auto", ["openvino", "onnx"], XEON) is None
    assert choose_graph(only_reduced, "fp32", ["onnx"], XEON) is None
    no_ir = layout.graphs([name for name in HUB_NAMES if not name.startswith("openvino/")])
    assert choose_graph(no_ir, "auto", ["openvino"], EPYC)[1].name == "onnx/model.onnx"  # OpenVINO reads ONNX


def test_directory_in_the_layout_runs_its_preconverted_graph(st_dir, cache):
    loaded = load_model(str(st_dir), precision="fp32")
    assert (loaded.runner.backend, loaded.runner.precision) == (AUTO_ORDER[0], "fp32")
    assert loaded.extra["graph"] == str(st_dir / "openvino" / "openvino_model.xml")
    assert loaded.source == str(st_dir) and "pre-converted openvino/openvino_model.xml" in loaded.reason
    assert loaded.id2label == NLI_ORDER
    onnx = load_model(str(st_dir), backend="onnx")
    assert onnx.extra["graph"] == str(st_dir / "onnx" / "model.onnx") and onnx.runner.precision == "fp32"
    np.testing.assert_allclose(
        NLIReranker(loaded, show_progress=False).score_pairs(PREMISES, HYPOTHESES),
        NLIReranker(onnx, show_progress=False).score_pairs(PREMISES, HYPOTHESES),
        atol=1e-5,
    )
    assert not cache.exists() or not list(cache.glob("*-onnx-*")) + list(cache.glob("*-openvino-*")), "no export"


def test_int8_files_only_when_int8_is_asked(st_dir, cache):
    variant = cpu.int8_variants()[0]
    loaded = load_model(str(st_dir), precision="int8")
    assert (loaded.runner.backend, loaded.runner.precision) == ("onnx", "int8")
    assert loaded.extra["graph"] == str(st_dir / "onnx" / f"model_{variant}.onnx")
    assert load_model(str(st_dir)).runner.precision in {"fp32", "bf16"}


def test_auto_precision_with_bf16_units_runs_the_check_once(st_dir, cache, monkeypatch):
    if cpu.bf16_units() is None:
        pytest.skip("this CPU has no bf16 units: auto precision is fp32 here (test_auto_precision_on_avx2_is_fp32)")
    loaded = load_model(str(st_dir), show_progress=False)
    stored = list((cache / checks.STORE).glob("*.json"))
    assert len(stored) == 1, "a user's directory is never written to: the verdict goes to the export cache"
    verdicts = json.loads(stored[0].read_text())["verdicts"]
    verdict = verdicts[checks.verdict_key("openvino")]
    assert verdict["pairs"] == 300 and verdict["candidate"] == "bf16" and verdict["machine"] == cpu.machine_kind()
    assert verdict["precision"] == loaded.runner.precision == ("bf16" if verdict["passed"] else "fp32")
    assert f"{verdict['argmax_agreement']:.2%}" in loaded.reason and cpu.bf16_units() in loaded.reason

    def no_second_check(*args, **kwargs):
        raise AssertionError("the kept verdict should have been used")

    monkeypatch.setattr(checks, "run_check", no_second_check)
    again = load_model(str(st_dir))
    assert again.runner.precision == loaded.runner.precision and "kept from" in again.reason


def test_bf16_that_fails_the_check_is_refused(st_dir, cache, monkeypatch):
    if cpu.bf16_units() is None:
        pytest.skip("this CPU has no bf16 units, so bf16 is never a candidate")
    monkeypatch.setattr(checks, "AGREEMENT_BAR", 1.01)  # nothing can pass
    loaded = load_model(str(st_dir), show_progress=False)
    assert loaded.runner.precision == "fp32" and "bf16 refused" in loaded.reason


def test_auto_precision_on_avx2_is_fp32(st_dir, cache, monkeypatch):
    monkeypatch.setattr(cpu, "cpu_info", lambda: EPYC)
    loaded = load_model(str(st_dir))
    assert (loaded.runner.backend, loaded.runner.precision) == (AUTO_ORDER[0], "fp32")
    assert "no bf16 units" in loaded.reason and not (cache / checks.STORE).exists()
    assert load_model(str(st_dir), precision="int8").extra["graph"].endswith("model_quint8_avx2.onnx")


@pytest.fixture
def offline_hub(tmp_path, monkeypatch) -> Path:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return tmp_path / "hub"


def test_hub_id_offline_uses_the_cached_snapshot(st_dir, cache, offline_hub):
    commit = add_snapshot(offline_hub, "fake-org/st-nli", st_dir)
    snapshot = offline_hub / "models--fake-org--st-nli" / "snapshots" / commit
    assert plan_load("fake-org/st-nli").reason == "pre-converted openvino/openvino_model.xml from the hub (cache)"
    loaded = load_model("fake-org/st-nli", precision="fp32")
    assert loaded.source == "fake-org/st-nli" and loaded.extra["graph"] == str(snapshot / "openvino/openvino_model.xml")
    assert loaded.fingerprint == f"hub:fake-org/st-nli@{commit}", "the hub id's identity, as for its weights"
    int8 = load_model("fake-org/st-nli", precision="int8")
    assert int8.extra["graph"] == str(snapshot / "onnx" / f"model_{cpu.int8_variants()[0]}.onnx")


def test_hub_id_online_downloads_only_the_chosen_graph(st_dir, cache, offline_hub, monkeypatch):
    """With the hub reachable (a local folder behind model_info and hf_hub_download), only the chosen graph, its
    companion and config/tokenizer are fetched: never the weights or the other graphs."""
    import huggingface_hub
    from huggingface_hub import constants

    remote = [*layout.local_files(st_dir), "model.safetensors", "README.md"]
    fetched: list[str] = []

    def model_info(repo_id, timeout=None):
        assert repo_id == "fake-org/remote-nli"
        return SimpleNamespace(siblings=[SimpleNamespace(rfilename=name) for name in remote])

    def hf_hub_download(repo_id, filename, **kwargs):
        fetched.append(filename)
        return str(add_file(offline_hub, repo_id, "a" * 40, filename, st_dir / filename))

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "model_info", model_info)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    loaded = load_model("fake-org/remote-nli", precision="fp32")
    assert loaded.runner.backend == AUTO_ORDER[0] and "from the hub (hub)" in loaded.reason
    assert sorted(fetched) == sorted(["openvino/openvino_model.xml", "openvino/openvino_model.bin", "config.json",
                                      "tokenizer.json", "tokenizer_config.json"])  # fmt: skip
    fetched.clear()
    assert load_model("fake-org/remote-nli", precision="int8").runner.precision == "int8"
    assert fetched[0] == f"onnx/model_{cpu.int8_variants()[0]}.onnx" and len(fetched) == 4


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_deberta_dir):
    """The tiny DeBERTa loaded with every default: exported once to OpenVINO into a cache of its own."""
    cache = tmp_path_factory.mktemp("auto-export-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NLI_RERANK_CACHE", str(cache))
        loaded = load_model(str(tiny_deberta_dir), show_progress=False)
        yield cache, loaded


def test_weights_are_exported_once_and_checked(exported, tiny_deberta_dir, monkeypatch):
    cache, loaded = exported
    monkeypatch.setenv("NLI_RERANK_CACHE", str(cache))
    entry = Path(loaded.extra["graph"]).parent
    assert loaded.runner.backend == AUTO_ORDER[0] and entry.parent == cache and loaded.source == str(tiny_deberta_dir)
    assert loaded.reason.startswith("exported to openvino once into the export cache")
    assert loaded.fingerprint == weights_fingerprint(tiny_deberta_dir), "the weights' identity, not the export's"
    manifest = json.loads((entry / "manifest.json").read_text())
    assert manifest["verification"]["pairs"] == 50 and manifest["verification"]["max_abs_logit_diff"] < 1e-3
    if cpu.bf16_units() is None:
        assert loaded.runner.precision == "fp32" and "precision_checks" not in manifest
    else:
        verdict = manifest["precision_checks"][checks.verdict_key("openvino")]
        assert verdict["precision"] == loaded.runner.precision and verdict["pairs"] == 300
    reference = NLIReranker(str(tiny_deberta_dir), backend="torch", show_progress=False)
    assert reference.model.runner.precision == "fp32", "a named torch backend keeps fp32"
    got = NLIReranker(loaded, show_progress=False).score_pairs(PREMISES, HYPOTHESES)
    want = reference.score_pairs(PREMISES, HYPOTHESES)
    assert np.abs(got - want).max() <= checks.MAX_DELTA_P and (got.argmax(1) == want.argmax(1)).all()

    def no_export(*args, **kwargs):
        raise AssertionError("the cached export should have been reused")

    monkeypatch.setattr("rerank.export.export_model", no_export)
    monkeypatch.setattr(checks, "run_check", no_export)
    again = load_model(str(tiny_deberta_dir))
    assert again.extra["graph"] == loaded.extra["graph"] and again.runner.precision == loaded.runner.precision


def test_auto_export_can_be_turned_off(tiny_deberta_dir, cache, monkeypatch):
    loaded = load_model(str(tiny_deberta_dir), auto_export=False, precision="fp32")
    assert (loaded.runner.backend, loaded.runner.precision) == ("torch", "fp32") and "export is off" in loaded.reason
    assert plan_load(str(tiny_deberta_dir)).export == "openvino"
    monkeypatch.setenv("NLI_RERANK_AUTO_EXPORT", "0")
    assert plan_load(str(tiny_deberta_dir)).backend == "torch" and ModelOptions().auto_export is False
    assert plan_load(str(tiny_deberta_dir), auto_export=True).export == "openvino"
    assert ModelOptions(auto_export=True).auto_export is True
    assert not list(cache.glob("*-openvino-*")), "nothing was exported"


def test_a_failed_export_falls_back_to_torch_and_is_remembered(tmp_path, cache, monkeypatch, caplog):
    model = build_tiny_deberta(tmp_path / "other", NLI_ORDER, seed=5)
    calls = []

    def refused(*args, **kwargs):
        calls.append(args)
        raise ExportError("the exported openvino graph differs from its source by 3.1e-02 in the logits")

    monkeypatch.setattr("rerank.export.export_model", refused)
    with caplog.at_level(logging.WARNING, logger="rerank.loading"):
        loaded = load_model(str(model), precision="fp32")
    assert (loaded.runner.backend, loaded.runner.precision) == ("torch", "fp32")
    assert "running it on torch instead" in caplog.text and "3.1e-02" in caplog.text
    assert refusal(str(model), "openvino")["error"].startswith("the exported openvino graph differs")
    plan = plan_load(str(model))
    assert plan.backend == "torch" and "failed its check earlier" in plan.reason
    assert load_model(str(model), precision="fp32").runner.backend == "torch" and len(calls) == 1
    forget_refusal(str(model), "openvino")
    assert plan_load(str(model)).export == "openvino"


def test_options_default_to_auto():
    options = ModelOptions()
    assert (options.backend, options.precision) == ("auto", "auto")
    with pytest.raises(ValueError, match="unknown precision 'fp16'"):
        load_model("whatever", precision="fp16")


def test_compare_is_hand_computed():
    reference = np.log(np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]]))
    candidate = np.log(np.array([[0.69, 0.21, 0.1], [0.3, 0.45, 0.25]]))
    found = checks.compare(reference, candidate)
    assert found["pairs"] == 2 and found["argmax_agreement"] == 0.5
    assert found["max_abs_dp"] == pytest.approx(0.1)
    assert checks.compare(np.array([[2.0], [-1.0]]), np.array([[1.9], [0.5]]))["argmax_agreement"] == 0.5


def test_cpu_helpers():
    assert cpu.bf16_units(XEON) == "AMX" and cpu.bf16_units(EPYC) is None
    assert cpu.bf16_units(cpu.CPUInfo("Zen 4", 2, frozenset({"avx512_bf16", "avx2"}))) == "AVX-512 BF16"
    assert cpu.int8_variants(XEON) == ["qint8_avx512_vnni", "qint8_avx512", "quint8_avx2"]
    assert cpu.int8_variants(EPYC) == ["quint8_avx2"] and cpu.int8_variants(GRAVITON) == ["qint8_arm64"]
    assert cpu.machine_kind(EPYC).endswith(" avx2") and "amx_bf16" in cpu.machine_kind(XEON)


def test_shipped_check_pairs_are_the_generated_ones():
    from rerank.export.check_pairs import COUNTS, check_pairs, generate_check_pairs

    pairs = check_pairs()
    assert pairs == generate_check_pairs(), "re-make the file: python -m rerank.export.check_pairs"
    assert len(pairs) == sum(COUNTS.values()) == 300 and len(set(pairs)) == 300
    text = " ".join(p + " " + h for p, h in pairs)
    for word in ("kaufte", "acheté", "compró", "randomised", "inhabitants", "Einwohner"):
        assert word in text
    lengths = sorted(len(premise.split()) for premise, _ in pairs)
    assert lengths[0] < 12 and lengths[-1] > 150


def test_nothing_to_export_is_torch_s_clear_error(tmp_path, cache):
    from rerank.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="no such directory"):
        load_model(str(tmp_path / "missing"))
    assert plan_load(str(tmp_path)).backend == "torch", "a folder without weights or graphs has nothing to export"
    assert not list(cache.glob("*-openvino-*")) if cache.exists() else True
