"""Export round trips: PyTorch -> ONNX / OpenVINO (fp32 and int8) -> the rerankers, checked against PyTorch."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from rerank.export import ExportError, export_model, read_pairs_tsv
from rerank.loading import load_model
from rerank.nli_reranker import NLIReranker
from rerank_cli.main import main

PREMISES = ["A man is playing a guitar on stage.", "The cat sleeps on the mat.", "Ein Hund läuft über die Wiese."]
HYPOTHESES = ["Someone makes music.", "An animal is awake.", "A dog is running."]
ORDER = {0: "contradiction", 1: "entailment", 2: "neutral"}


@pytest.fixture(scope="module")
def export_cache(tmp_path_factory):
    """Point the on-demand export cache at a temporary directory for this module."""
    cache = tmp_path_factory.mktemp("export-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NLI_RERANK_CACHE", str(cache))
        yield cache


@pytest.fixture(scope="module")
def tiny_onnx_dir(export_cache, tiny_deberta_dir) -> Path:
    """The tiny DeBERTa exported on demand by backend="onnx" (the cache path), as the export round trip."""
    loaded = load_model(str(tiny_deberta_dir), backend="onnx")
    graph = Path(loaded.extra["graph"])
    assert graph.parent.parent == export_cache
    return graph.parent


@pytest.fixture(scope="module")
def mini_onnx_dir(tmp_path_factory, mini_nli_dir) -> Path:
    return export_model(str(mini_nli_dir), tmp_path_factory.mktemp("mini") / "onnx")


def snli(shared_dir: Path, n: int, start: int = 0) -> tuple[list[str], list[str], list[str]]:
    with (shared_dir / "data" / "nli" / "snli_test.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[start : start + n]
    return [r["premise"] for r in rows], [r["hypothesis"] for r in rows], [r["label"] for r in rows]


def test_export_directory_contents(tiny_onnx_dir, tiny_deberta_dir):
    names = {path.name for path in tiny_onnx_dir.iterdir()}
    assert {"model.onnx", "config.json", "manifest.json", "tokenizer.json"} <= names
    config = json.loads((tiny_onnx_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "contradiction", "1": "entailment", "2": "neutral"}
    manifest = json.loads((tiny_onnx_dir / "manifest.json").read_text())
    assert manifest["format"] == "onnx" and manifest["precision"] == "fp32" and manifest["quantization"] is None
    assert manifest["source"] == str(tiny_deberta_dir) and "dynamo=True" in manifest["exporter"]
    assert "windowed relative attention in 2 layers" in manifest["exporter"]
    assert manifest["inputs"] == ["input_ids", "attention_mask"]  # DeBERTa-v3 takes no token_type_ids
    assert manifest["verification"]["max_abs_logit_diff"] < 1e-4
    assert {"torch", "onnxruntime", "transformers"} <= set(manifest["versions"])


def test_second_load_reuses_the_cached_export(tiny_onnx_dir, tiny_deberta_dir):
    created = json.loads((tiny_onnx_dir / "manifest.json").read_text())["created"]
    loaded = load_model(str(tiny_deberta_dir), backend="onnx")
    assert Path(loaded.extra["graph"]).parent == tiny_onnx_dir
    assert json.loads((tiny_onnx_dir / "manifest.json").read_text())["created"] == created


@pytest.mark.parametrize("backend", ["auto", "onnx", "openvino"])
def test_tiny_deberta_fp32_parity(tiny_onnx_dir, tiny_deberta_dir, backend):
    reference = NLIReranker(str(tiny_deberta_dir), backend="torch", show_progress=False).score_pairs(
        PREMISES, HYPOTHESES
    )
    reranker = NLIReranker(str(tiny_onnx_dir), backend=backend, precision="fp32", show_progress=False, batch_size=2)
    assert reranker.model.runner.backend != "torch" and reranker.model.runner.precision == "fp32"
    np.testing.assert_allclose(reranker.score_pairs(PREMISES, HYPOTHESES), reference, atol=1e-4)


def test_mini_nli_fp32_and_int8_parity(mini_onnx_dir, mini_nli_dir, shared_dir):
    premises, hypotheses, _ = snli(shared_dir, 64)
    torch_reranker = NLIReranker(str(mini_nli_dir), backend="torch", show_progress=False)
    reference = torch_reranker.score_pairs(premises, hypotheses)
    inputs = json.loads((mini_onnx_dir / "manifest.json").read_text())["inputs"]
    assert sorted(inputs) == ["attention_mask", "input_ids", "token_type_ids"]
    for backend in ("onnx", "openvino"):
        got = NLIReranker(str(mini_onnx_dir), backend=backend, show_progress=False).score_pairs(premises, hypotheses)
        np.testing.assert_allclose(got, reference, atol=1e-4, err_msg=backend)
    int8 = NLIReranker(str(mini_onnx_dir), backend="onnx", precision="int8", show_progress=False)
    assert int8.model.runner.precision == "int8"
    got = int8.score_pairs(premises, hypotheses)
    assert (got.argmax(axis=1) == reference.argmax(axis=1)).mean() >= 0.95
    assert np.abs(got[:, 0] - reference[:, 0]).mean() < 0.03  # a few borderline pairs move more (see the benchmark)


def test_cli_openvino_int8_from_an_onnx_directory(tmp_path, tiny_onnx_dir, tiny_deberta_dir, shared_dir, capsys):
    premises, hypotheses, _ = snli(shared_dir, 24, start=100)
    calibration = tmp_path / "calibration.tsv"
    rows = "".join(f"{p}\t{h}\n" for p, h in zip(premises, hypotheses, strict=True))
    calibration.write_text("premise\thypothesis\n" + rows)
    out = tmp_path / "tiny-ov-int8"
    argv = ["export", str(tiny_onnx_dir), "--format", "openvino", "--quantize", "int8",
            "--calibration", str(calibration), "--labels", *ORDER.values(), "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert f"wrote {out} (openvino, int8)" in capsys.readouterr().out
    assert (out / "openvino_model.xml").is_file() and not (out / "model.onnx").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["quantization"]["tool"] == "nncf" and manifest["quantization"]["calibration_pairs"] == 24
    assert manifest["exporter"].startswith("copied from") and manifest["id2label"]["1"] == "entailment"
    reranker = NLIReranker(str(out), show_progress=False)
    assert (reranker.model.runner.backend, reranker.model.runner.precision) == ("openvino", "int8")
    reference = NLIReranker(str(tiny_deberta_dir), backend="torch", show_progress=False).score_pairs(
        PREMISES, HYPOTHESES
    )
    np.testing.assert_allclose(reranker.score_pairs(PREMISES, HYPOTHESES), reference, atol=0.25)
    assert main(argv) == 2, "an existing, non-empty --out is refused without --overwrite"
    assert "already exists" in capsys.readouterr().err


def test_bad_export_arguments(tmp_path, tiny_deberta_dir):
    with pytest.raises(ValueError, match="format must be one of"):
        export_model(str(tiny_deberta_dir), tmp_path / "a", format="tensorrt")
    with pytest.raises(ValueError, match="quantize must be one of"):
        export_model(str(tiny_deberta_dir), tmp_path / "a", quantize="int4")
    with pytest.raises(ValueError, match="calibration"):
        export_model(str(tiny_deberta_dir), tmp_path / "a", format="openvino", quantize="int8")
    with pytest.raises(ValueError, match="2 labels given for a model with 3"):
        export_model(str(tiny_deberta_dir), tmp_path / "a", labels=["entailment", "contradiction"])
    assert not (tmp_path / "a").exists()


def test_read_pairs_tsv(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text('premise\thypothesis\tlabel\nA cat.\tAn animal.\tentailment\nRain "falls".\tIt is dry.\tx\n')
    assert read_pairs_tsv(path) == [("A cat.", "An animal."), ('Rain "falls".', "It is dry.")]
    assert read_pairs_tsv(path, limit=1) == [("A cat.", "An animal.")]
    path.write_text("only one column\n")
    with pytest.raises(ValueError, match="expected premise<TAB>hypothesis"):
        read_pairs_tsv(path)


def test_retraining_in_place_makes_a_new_cached_export(export_cache, tiny_onnx_dir, tiny_deberta_dir, tmp_path):
    """The export cache keys by the weights' content: a copy of the same bytes reuses the export, new bytes under
    the same names and sizes get their own."""
    import shutil

    model = tmp_path / "retrained"
    shutil.copytree(tiny_deberta_dir, model)
    same = load_model(str(model), backend="onnx")
    assert Path(same.extra["graph"]).parent == tiny_onnx_dir and same.source == str(model)
    weights = model / "model.safetensors"
    size = weights.stat().st_size
    with weights.open("r+b") as handle:  # the last bytes are tensor data
        handle.seek(-4, 2)
        handle.write(b"\x00\x00\x80\x3f")
    assert weights.stat().st_size == size
    retrained = load_model(str(model), backend="onnx")
    assert Path(retrained.extra["graph"]).parent not in {tiny_onnx_dir, None}
    assert Path(retrained.extra["graph"]).parent.parent == export_cache
    assert retrained.fingerprint != same.fingerprint


def test_overwrite_refuses_what_export_did_not_write(tmp_path, tiny_onnx_dir, capsys):
    foreign = tmp_path / "bm25-index"
    foreign.mkdir()
    (foreign / "manifest.json").write_text('{"kind": "bm25", "documents": 5183}')
    (foreign / "index.npz").write_bytes(b"\x00" * 64)
    plain = tmp_path / "notes.txt"
    plain.write_text("keep me")
    before = {path.name: path.read_bytes() for path in foreign.iterdir()}
    for target in (foreign, plain):
        with pytest.raises(FileExistsError, match=rf"refusing to overwrite {target}"):
            export_model(str(tiny_onnx_dir), target, overwrite=True)
    assert main(["export", str(tiny_onnx_dir), "--out", str(foreign), "--overwrite"]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert {path.name: path.read_bytes() for path in foreign.iterdir()} == before
    assert plain.read_text() == "keep me"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bm25-index", "notes.txt"], "no staging left"


def test_overwrite_replaces_an_earlier_export_only_once_verified(tmp_path, tiny_onnx_dir, monkeypatch):
    from rerank.export import verify

    out = export_model(str(tiny_onnx_dir), tmp_path / "nli-onnx")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format_name"] == "nli-rerank-export"

    monkeypatch.setattr(verify, "FP32_TOLERANCE", -1.0)  # every graph now fails the parity check
    with pytest.raises(ExportError, match="nothing was written"):
        export_model(str(tiny_onnx_dir), out, labels=["neutral", "entailment", "contradiction"], overwrite=True)
    assert json.loads((out / "manifest.json").read_text()) == manifest, "the old export is intact"
    assert load_model(str(out), backend="onnx").id2label == ORDER
    assert [path.name for path in tmp_path.iterdir()] == ["nli-onnx"], "no staging left"
    monkeypatch.undo()

    legacy = {key: value for key, value in manifest.items() if key != "format_name"}  # written before the marker
    (out / "manifest.json").write_text(json.dumps(legacy))
    export_model(str(tiny_onnx_dir), out, labels=["entailment", "neutral", "contradiction"], overwrite=True)
    replaced = json.loads((out / "manifest.json").read_text())
    assert replaced["id2label"] == {"0": "entailment", "1": "neutral", "2": "contradiction"}
    assert load_model(str(out), backend="onnx").id2label == {0: "entailment", 1: "neutral", 2: "contradiction"}
    assert [path.name for path in tmp_path.iterdir()] == ["nli-onnx"]


@pytest.mark.parametrize(
    "settings",
    [
        {},  # DeBERTa-v3: 256 log buckets, shared position keys, c2p + p2c
        {"position_buckets": -1, "max_relative_positions": -1},  # no buckets: the span is max_position_embeddings
        {"share_att_key": False, "pos_att_type": ["c2p"]},  # DeBERTa-v2 style: separate position projections
    ],
)
def test_windowed_relative_attention_is_exact(settings):
    """The windowed relative attention traced into exports gives the logits of transformers' own, for lengths
    inside the bucket span and beyond it, with padding."""
    import torch
    from transformers import DebertaV2Config, DebertaV2ForSequenceClassification

    from rerank.export.graph import windowed_relative_attention

    defaults = {"position_buckets": 256, "pos_att_type": ["p2c", "c2p"], "share_att_key": True}
    config = DebertaV2Config(
        vocab_size=300, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=512, relative_attention=True, norm_rel_ebd="layer_norm", type_vocab_size=0,
        num_labels=3, **{**defaults, **settings},
    )  # fmt: skip
    torch.manual_seed(0)
    model = DebertaV2ForSequenceClassification(config).eval()
    for length in (3, 40, 300):
        ids = torch.randint(5, 300, (3, length))
        mask = torch.ones_like(ids)
        mask[1, length // 2 :] = 0
        with torch.inference_mode():
            plain = model(input_ids=ids, attention_mask=mask).logits
            with windowed_relative_attention(model) as layers:
                windowed = model(input_ids=ids, attention_mask=mask).logits
        assert layers == 2
        torch.testing.assert_close(windowed, plain, atol=1e-5, rtol=1e-5, msg=f"length {length}")
    assert "disentangled_attention_bias" not in vars(model.deberta.encoder.layer[0].attention.self), "restored"
