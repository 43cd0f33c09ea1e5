"""NLIReranker on a tiny DeBERTa-v2 built from a config (real loading path, real tokenizer)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from rerank import Candidate, Document, ModelLoadError, NLIReranker, RelevanceReranker
from rerank.loading import load_model
from tests.conftest import build_tiny_deberta

QUERY = "A cat is sleeping on the sofa."
PASSAGES = [
    "The cat sleeps on the couch all afternoon.",
    "Dogs bark at the mailman every morning, and the neighbours complain about the noise.",
    "Nobody is at home today.",
    "A very long passage about weather. " * 40,
    "Sofa cushions were cleaned last week by a professional service that specialises in upholstery.",
]


@pytest.fixture(scope="module")
def tiny_model(tiny_deberta_dir):
    """One loaded copy of the tiny model, shared by rerankers with different options."""
    return load_model(str(tiny_deberta_dir))


@pytest.fixture(scope="module")
def tiny(tiny_model):
    return NLIReranker(tiny_model, granularity="passage", fusion_weight=None, show_progress=False)


class CountingRunner:
    """Wraps a backend runner to count forward passes (the reranker itself runs unchanged)."""

    def __init__(self, runner):
        self.inner, self.calls = runner, 0
        self.backend, self.precision, self.input_names = runner.backend, runner.precision, runner.input_names

    def __call__(self, features):
        self.calls += 1
        return self.inner(features)


def test_score_returns_probabilities_in_entailment_neutral_contradiction_columns(tiny):
    scores = tiny.score(QUERY, PASSAGES)
    assert scores.shape == (len(PASSAGES), 3)
    assert np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-6)


def test_permuted_id2label_gives_the_same_columns(tiny, tiny_deberta_permuted_dir):
    # Same weights, id2label permuted: logit 1 now means "neutral" instead of "entailment".
    permuted = NLIReranker(str(tiny_deberta_permuted_dir), granularity="passage", fusion_weight=None,
                           show_progress=False)  # fmt: skip
    original, remapped = tiny.score(QUERY, PASSAGES), permuted.score(QUERY, PASSAGES)
    # The original columns hold logits (1, 2, 0); the permuted model's columns hold logits (0, 1, 2).
    np.testing.assert_allclose(remapped[:, [1, 2, 0]], original, atol=1e-6)
    assert not np.allclose(remapped, original, atol=1e-3)


def test_scores_do_not_depend_on_batch_size_or_input_order(tiny_model):
    reference = NLIReranker(tiny_model, batch_size=1, granularity="passage", show_progress=False)
    expected = reference.score(QUERY, PASSAGES)
    for batch_size in (2, 3, 64):
        reranker = NLIReranker(tiny_model, batch_size=batch_size, granularity="passage",
                               show_progress=False)  # fmt: skip
        np.testing.assert_allclose(reranker.score(QUERY, PASSAGES), expected, atol=1e-5)
        permutation = [3, 0, 4, 2, 1]
        shuffled = reranker.score(QUERY, [PASSAGES[i] for i in permutation])
        np.testing.assert_allclose(shuffled, expected[permutation], atol=1e-5)


def test_long_premise_is_truncated_and_counted_hypothesis_never(tiny_model):
    reranker = NLIReranker(tiny_model, max_length=32, granularity="passage", show_progress=False)
    before = reranker.truncated_pairs
    reranker.score(QUERY, ["short passage.", "word " * 200])
    assert reranker.truncated_pairs - before == 1
    with pytest.raises(ValueError, match="no room is left for the passage"):
        reranker.score("a query " * 40, ["short passage."])


def test_huge_document_is_cut_before_tokenising(tiny):
    before = tiny.truncated_pairs
    scores = tiny.score(QUERY, ["x " * 2_000_000])
    assert scores.shape == (1, 3) and tiny.truncated_pairs == before + 1


def test_empty_document_list_returns_empty_without_a_model_call(tiny):
    runner = CountingRunner(tiny.model.runner)
    tiny.model.runner = runner
    try:
        assert tiny.score(QUERY, []).shape == (0, 3)
        assert tiny.rerank(QUERY, []) == []
        assert runner.calls == 0
        tiny.score(QUERY, PASSAGES[:2])
        assert runner.calls == 1
    finally:
        tiny.model.runner = runner.inner


@pytest.mark.parametrize("query", ["", "   "])
def test_empty_query_is_rejected(tiny, query):
    with pytest.raises(ValueError, match="query is empty"):
        tiny.score(query, PASSAGES)


@pytest.mark.parametrize("documents", [[None], ["ok", 3], [["nested"]]])
def test_non_string_documents_are_rejected(tiny, documents):
    with pytest.raises(TypeError, match="must be a Document or str"):
        tiny.score(QUERY, documents)


def test_blank_document_is_rejected_by_id(tiny):
    with pytest.raises(ValueError, match="document 'blank' has no text"):
        tiny.score(QUERY, [Document(id="blank", text="  ")])


def test_query_must_be_a_string(tiny):
    with pytest.raises(TypeError, match="query must be a str"):
        tiny.score(None, PASSAGES)


@pytest.mark.parametrize("bad", [math.nan, -0.1, 1.5])
def test_thresholds_must_be_probabilities(tiny, bad):
    with pytest.raises(ValueError, match="probability in"):
        tiny.rerank(QUERY, PASSAGES, min_entailment=bad)
    with pytest.raises(ValueError, match="probability in"):
        tiny.rerank(QUERY, PASSAGES, max_contradiction=bad)


def test_threshold_type_and_top_k_are_checked(tiny):
    with pytest.raises(TypeError, match="min_entailment"):
        tiny.rerank(QUERY, PASSAGES, min_entailment="0.5")
    with pytest.raises(ValueError, match="top_k"):
        tiny.rerank(QUERY, PASSAGES, top_k=0)


def test_rerank_orders_by_entailment_and_reports_filtered_candidates(tiny):
    scores = tiny.score(QUERY, PASSAGES)
    threshold = float(np.median(scores[:, 0]))
    results = tiny.rerank(QUERY, PASSAGES, min_entailment=threshold)
    assert [r.rank for r in results] == list(range(1, len(PASSAGES) + 1))
    kept = [r for r in results if r.kept]
    dropped = [r for r in results if not r.kept]
    assert len(kept) + len(dropped) == len(PASSAGES) and dropped, "every candidate is reported"
    assert all(r.scores.entailment >= threshold for r in kept)
    assert all(r.scores.entailment < threshold for r in dropped)
    assert results.index(kept[-1]) < results.index(dropped[0]), "kept results come first"
    entailments = [r.scores.entailment for r in kept]
    assert entailments == sorted(entailments, reverse=True)


def test_top_k_limits_kept_results(tiny):
    results = tiny.rerank(QUERY, PASSAGES, top_k=2)
    assert len(results) == 2 and all(r.kept for r in results)


def test_ties_go_to_the_better_retriever_rank(tiny):
    document = Document(id="same", text="Identical passage text.")
    candidates = [
        Candidate(document=document.model_copy(update={"id": f"d{rank}"}), retriever="bm25", retriever_rank=rank)
        for rank in (3, 1, 2)
    ]
    results = tiny.rerank(QUERY, candidates)
    assert [r.candidate.retriever_rank for r in results] == [1, 2, 3]


def test_fusion_uses_retriever_scores_and_thresholds_still_use_probabilities(tiny_model):
    fused = NLIReranker(tiny_model, granularity="passage", fusion_weight=0.001, show_progress=False)
    candidates = [
        Candidate(document=Document(id=str(i), text=text), retriever="bm25", retriever_score=float(10 - i),
                  retriever_rank=i + 1)
        for i, text in enumerate(PASSAGES)
    ]  # fmt: skip
    results = fused.rerank(QUERY, candidates)
    # With a tiny weight the retriever order dominates.
    assert [r.document.id for r in results] == ["0", "1", "2", "3", "4"]
    threshold = max(r.scores.entailment for r in results) + 1e-9
    assert not any(r.kept for r in fused.rerank(QUERY, candidates, min_entailment=threshold))


def test_sentence_granularity_keeps_best_sentence_as_evidence(tiny_model):
    reranker = NLIReranker(tiny_model, granularity="sentence", fusion_weight=None, max_segments=None,
                           show_progress=False)  # fmt: skip
    passage_reranker = NLIReranker(tiny_model, granularity="passage", show_progress=False)
    document = Document(id="d", text="The sofa is red. A cat sleeps there. Rain is expected.")
    (result,) = reranker.rerank(QUERY, [document])
    sentences = ["The sofa is red.", "A cat sleeps there.", "Rain is expected."]
    per_sentence = passage_reranker.score(QUERY, sentences)
    best = int(per_sentence[:, 0].argmax())
    assert result.evidence.index == best and result.evidence.sentence == sentences[best]
    assert result.scores.entailment == pytest.approx(per_sentence[:, 0].max(), abs=1e-6)
    assert result.scores.contradiction == pytest.approx(per_sentence[:, 2].max(), abs=1e-6)


def test_document_metadata_sentences_override_the_splitter(tiny_model):
    reranker = NLIReranker(tiny_model, granularity="sentence", show_progress=False)
    document = Document(id="d", text="ignored", metadata={"sentences": ["First given.", "Second given."]})
    (result,) = reranker.rerank(QUERY, [document])
    assert result.evidence.sentence in {"First given.", "Second given."}


def test_hypothesis_template_changes_the_hypothesis(tiny_model):
    plain = NLIReranker(tiny_model, granularity="passage", show_progress=False)
    templated = NLIReranker(tiny_model, granularity="passage", hypothesis_template="This is about {}.",
                            show_progress=False)  # fmt: skip
    assert templated.hypothesis("cats") == "This is about cats."
    assert not np.allclose(plain.score("cats", PASSAGES), templated.score("cats", PASSAGES))
    with pytest.raises(ValueError, match="exactly one"):
        NLIReranker(tiny_model, hypothesis_template="no placeholder")


def test_invalid_constructor_arguments(tiny_model):
    with pytest.raises(ValueError, match="granularity"):
        NLIReranker(tiny_model, granularity="paragraph")
    with pytest.raises(ValueError, match="fusion_weight"):
        NLIReranker(tiny_model, fusion_weight=math.inf)
    with pytest.raises(ValueError, match="batch_size"):
        NLIReranker(tiny_model, batch_size=0)


def test_two_label_model(tmp_path):
    directory = build_tiny_deberta(tmp_path / "two", {0: "not_entailment", 1: "entailment"})
    reranker = NLIReranker(str(directory), granularity="passage", show_progress=False)
    scores = reranker.score(QUERY, PASSAGES)
    assert np.all(scores[:, 2] == 0.0) and np.allclose(scores[:, 0] + scores[:, 1], 1.0)
    with pytest.raises(ValueError, match="needs a 3-label NLI model"):
        reranker.rerank(QUERY, PASSAGES, max_contradiction=0.5)
    assert all(r.kept is True for r in reranker.rerank(QUERY, PASSAGES, min_entailment=0.0))


def test_generic_labels_need_override(tmp_path):
    directory = build_tiny_deberta(tmp_path / "generic", {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    with pytest.raises(ValueError, match="pass labels="):
        NLIReranker(str(directory))
    reranker = NLIReranker(str(directory), labels=["contradiction", "entailment", "neutral"], granularity="passage",
                           show_progress=False)  # fmt: skip
    assert reranker.label_map.entailment == 1
    with pytest.raises(ValueError, match="2 labels given for a model with 3"):
        NLIReranker(str(directory), labels=["not_entailment", "entailment"])


def test_one_logit_model_is_a_relevance_reranker(tmp_path):
    directory = build_tiny_deberta(tmp_path / "relevance", {0: "LABEL_0"})
    with pytest.raises(ValueError, match="use RelevanceReranker"):
        NLIReranker(str(directory))
    relevance = RelevanceReranker(str(directory), show_progress=False)
    scores = relevance.score(QUERY, PASSAGES)
    assert scores.shape == (len(PASSAGES),) and np.all((scores > 0) & (scores < 1))
    results = relevance.rerank(QUERY, PASSAGES, min_score=float(np.median(scores)))
    assert [r.score for r in results if r.kept] == sorted((r.score for r in results if r.kept), reverse=True)
    assert sum(not r.kept for r in results) == 2


def test_relevance_reranker_refuses_an_nli_model(tiny_model):
    with pytest.raises(ValueError, match="needs a 1-logit relevance cross-encoder"):
        RelevanceReranker(tiny_model)


def test_missing_model_names_the_path_and_the_fix(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError, match=r"no-such-model.*--model PATH"):
        NLIReranker(str(missing))


def test_unknown_hub_model_offline_names_the_id_and_the_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match=r"nobody/no-such-nli-model.*local model directory"):
        NLIReranker("nobody/no-such-nli-model")


def test_directory_without_a_model_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="could not load"):
        NLIReranker(str(tmp_path))


def test_model_argument_type_is_checked():
    with pytest.raises(TypeError, match="model must be"):
        NLIReranker(None)


def test_importing_rerank_does_not_import_torch():
    code = "import sys, rerank, rerank.records; print('torch' in sys.modules, 'transformers' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["False", "False"]
