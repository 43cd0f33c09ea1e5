"""The reranker contract: protocol, options, probability head, fingerprint, and the defects they replaced."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from rerank import (
    Candidate,
    Document,
    ModelOptions,
    NLIReranker,
    Pipeline,
    RankedResult,
    RelevanceReranker,
    RelevanceResult,
    Reranker,
    RerankResult,
)
from rerank.head import NLIHead, Platt, RelevanceHead, Temperature
from rerank.labels import label_map_from_names
from rerank.loading import load_model
from tests.conftest import build_tiny_deberta

QUERY = "A cat is sleeping on the sofa."
PASSAGES = ["The cat sleeps on the couch.", "Dogs bark at the mailman.", "Nobody is at home today."]


class ListRetriever:
    def __init__(self, texts):
        self.documents = [Document(id=f"d{i}", text=text) for i, text in enumerate(texts)]

    def retrieve(self, query, k):
        return [
            Candidate(document=d, retriever="list", retriever_score=float(10 - i), retriever_rank=i + 1)
            for i, d in enumerate(self.documents[:k])
        ]


@pytest.fixture(scope="module")
def tiny_model(tiny_deberta_dir):
    return load_model(str(tiny_deberta_dir))


@pytest.fixture(scope="module")
def relevance_dir(tmp_path_factory):
    return build_tiny_deberta(tmp_path_factory.mktemp("relevance"), {0: "LABEL_0"})


@pytest.fixture(scope="module")
def two_label_dir(tmp_path_factory):
    return build_tiny_deberta(tmp_path_factory.mktemp("two"), {0: "not_entailment", 1: "entailment"})


def test_both_rerankers_implement_the_protocol(tiny_model, relevance_dir):
    nli = NLIReranker(tiny_model, show_progress=False)
    relevance = RelevanceReranker(str(relevance_dir), show_progress=False)
    assert isinstance(nli, Reranker) and isinstance(relevance, Reranker)
    assert nli.columns == ("entailment", "neutral", "contradiction") and relevance.columns == ("relevance",)
    assert nli.thresholds == {"min_entailment", "max_contradiction"} and relevance.thresholds == {"min_score"}
    assert not isinstance(object(), Reranker)


def test_results_share_one_base(tiny_model, relevance_dir):
    nli = NLIReranker(tiny_model, show_progress=False).rerank(QUERY, PASSAGES)
    relevance = RelevanceReranker(str(relevance_dir), show_progress=False).rerank(QUERY, PASSAGES)
    assert all(isinstance(r, RerankResult) and isinstance(r, RankedResult) for r in nli)
    assert all(isinstance(r, RelevanceResult) and isinstance(r, RankedResult) for r in relevance)


def test_pipeline_refuses_an_nli_threshold_for_a_relevance_reranker_at_construction(relevance_dir):
    relevance = RelevanceReranker(str(relevance_dir), show_progress=False)
    with pytest.raises(ValueError, match=r"min_entailment does not apply.*accepts \['min_score'\]"):
        Pipeline(ListRetriever(PASSAGES), relevance, min_entailment=0.5)
    with pytest.raises(ValueError, match="min_score does not apply"):
        Pipeline(ListRetriever(PASSAGES), None, min_score=0.5)


def test_pipeline_accepts_a_relevance_threshold(relevance_dir):
    relevance = RelevanceReranker(str(relevance_dir), show_progress=False)
    scores = relevance.score(QUERY, PASSAGES)
    cut = float(np.sort(scores)[1])  # keeps two of three
    results = Pipeline(ListRetriever(PASSAGES), relevance, k=3, top_k=3, min_score=cut).search(QUERY)
    assert sum(r.kept for r in results) == 2
    assert all(r.score >= cut for r in results if r.kept) and all(r.score < cut for r in results if not r.kept)


def test_pipeline_refuses_max_contradiction_for_a_two_label_model_at_construction(two_label_dir):
    reranker = NLIReranker(str(two_label_dir), show_progress=False)
    assert reranker.thresholds == {"min_entailment"}
    with pytest.raises(ValueError, match="max_contradiction does not apply"):
        Pipeline(ListRetriever(PASSAGES), reranker, max_contradiction=0.5)


def test_pipeline_search_returns_ranked_results_with_or_without_a_reranker(tiny_model):
    retriever = ListRetriever(PASSAGES)
    plain = Pipeline(retriever, None, k=3, top_k=2).search(QUERY)
    assert all(type(r) is RankedResult for r in plain)
    assert [(r.rank, r.document.id, r.score, r.kept) for r in plain] == [(1, "d0", 10.0, True), (2, "d1", 9.0, True)]
    reranked = Pipeline(retriever, NLIReranker(tiny_model, show_progress=False), k=3, top_k=2).search(QUERY)
    assert all(isinstance(r, RankedResult) for r in reranked)


def test_pipeline_refuses_an_object_that_is_not_a_reranker():
    class OnlyRerank:
        def rerank(self, query, candidates, top_k=None):
            return []

    with pytest.raises(TypeError, match=r"rerank\.Reranker"):
        Pipeline(ListRetriever(PASSAGES), OnlyRerank())


def test_options_are_one_frozen_model_and_bad_values_name_the_option():
    options = ModelOptions(batch_size=8)
    with pytest.raises(ValueError):
        options.batch_size = 4
    for bad, name in ((dict(threads=-3), "threads"), (dict(batch_size=True), "batch_size"),
                      (dict(backend="tensorrt"), "backend"), (dict(precision="fp8"), "precision"),
                      (dict(max_lenght=256), "max_lenght")):  # fmt: skip
        with pytest.raises(ValueError, match=name):
            NLIReranker("unused-because-options-fail-first", **bad)


def test_options_conflicting_with_a_loaded_model_raise(tiny_model):
    assert tiny_model.runner.backend == "torch"
    with pytest.raises(ValueError, match=r"already loaded.*backend='onnx'"):
        NLIReranker(tiny_model, backend="onnx")
    with pytest.raises(ValueError, match=r"threads=3 \(the model runs with threads=None\)"):
        NLIReranker(tiny_model, threads=3)
    other = "fp32" if tiny_model.runner.precision == "bf16" else "bf16"  # auto may pick bf16 on bf16 units
    with pytest.raises(ValueError, match=f"precision='{other}'"):
        RelevanceReranker(tiny_model, precision=other)
    # options that agree, and options that only change how pairs are fed, are fine
    same = tiny_model.runner.precision
    reranker = NLIReranker(tiny_model, backend="torch", precision=same, batch_size=2, show_progress=False)
    assert reranker.options.batch_size == 2


def test_options_object_and_keywords_combine(tiny_model):
    reranker = NLIReranker(tiny_model, options=ModelOptions(batch_size=4, max_length=128), max_length=64)
    assert (reranker.options.batch_size, reranker.options.max_length) == (4, 64)


def test_fingerprint_covers_scoring_settings_but_not_order_or_filter_settings(tiny_model, tiny_deberta_dir):
    def make(**kwargs):
        return NLIReranker(tiny_model, show_progress=False, **kwargs).fingerprint

    base = make()
    assert make(fusion_weight=None) == base and make(fusion_weight=0.5) == base
    assert make(batch_size=3) == base
    changed = {
        "granularity": make(granularity="passage"),
        "title": make(title="sentence"),
        "template": make(hypothesis_template="This text is about {}."),
        "labels": make(labels=["entailment", "contradiction", "neutral"]),
        "max_length": make(max_length=128),
        "aggregate": make(aggregate="mean"),
        "window": make(granularity="window"),
        "window_tokens": make(granularity="window", window_tokens=64),
    }
    assert make(order="decisiveness") == base, "the order only reorders"
    assert len({base, *changed.values()}) == len(changed) + 1, changed


def test_disk_cache_does_not_serve_scores_of_a_corrected_label_order(tmp_path):
    """Regression: the eval fingerprint left out labels=, so a corrected LABEL_0.. order served stale columns."""
    from eval import CachedScorer

    directory = build_tiny_deberta(tmp_path / "generic", {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    loaded = load_model(str(directory))
    wrong = NLIReranker(loaded, labels=["entailment", "neutral", "contradiction"], granularity="passage",
                        show_progress=False)  # fmt: skip
    right = NLIReranker(loaded, labels=["contradiction", "entailment", "neutral"], granularity="passage",
                        show_progress=False)  # fmt: skip
    store = tmp_path / "scores.sqlite"
    CachedScorer(wrong, store).score(QUERY, PASSAGES)
    corrected = CachedScorer(right, store).score(QUERY, PASSAGES)
    np.testing.assert_allclose(corrected, right.score(QUERY, PASSAGES), atol=1e-6)
    assert not np.allclose(corrected, wrong.score(QUERY, PASSAGES), atol=1e-3)


def test_nli_head_reorders_and_calibrates():
    head = NLIHead(label_map_from_names(["contradiction", "entailment", "neutral"]))
    logits = np.array([[1.0, 3.0, 0.0], [0.0, 0.0, 5.0]])
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(head(logits), expected[:, [1, 2, 0]], atol=1e-12)
    hot = NLIHead(head.label_map, Temperature(2.0))(logits)
    np.testing.assert_allclose(hot, NLIHead(head.label_map)(logits / 2.0), atol=1e-12)
    assert (hot.argmax(axis=1) == head(logits).argmax(axis=1)).all() and hot.max() < head(logits).max()
    assert head.identity() != NLIHead(head.label_map, Temperature(2.0)).identity()


def test_relevance_head_is_a_sigmoid_with_optional_platt_scaling():
    logits = np.array([[-2.0], [0.0], [3.0]])
    np.testing.assert_allclose(RelevanceHead()(logits), 1 / (1 + np.exp(-logits[:, 0])), atol=1e-12)
    scaled = RelevanceHead(Platt(slope=0.5, intercept=1.0))(logits)
    np.testing.assert_allclose(scaled, 1 / (1 + np.exp(-(0.5 * logits[:, 0] + 1.0))), atol=1e-12)
    with pytest.raises(ValueError, match="slope"):
        Platt(slope=-1.0, intercept=0.0)
    with pytest.raises(ValueError, match="temperature"):
        Temperature(0.0)


def test_non_finite_logits_are_a_clear_error():
    head = NLIHead(label_map_from_names(["contradiction", "entailment", "neutral"]))
    with pytest.raises(ValueError, match=r"non-finite logits.*position 1"):
        head(np.array([[0.0, 1.0, 2.0], [np.nan, 0.0, 0.0]]))


def test_truncation_is_logged_once_per_reranker(tiny_model, caplog):
    reranker = NLIReranker(tiny_model, max_length=32, granularity="passage", show_progress=False)
    with caplog.at_level(logging.WARNING, logger="rerank.scorer"):
        for _ in range(3):
            reranker.score(QUERY, ["word " * 200])
    warnings = [record for record in caplog.records if "truncated" in record.getMessage()]
    assert len(warnings) == 1 and reranker.truncated_pairs == 3


@pytest.mark.parametrize("template", ["About {} {x}", "About {0} and {}", "{}{}", "no field", "About {"])
def test_bad_templates_fail_at_construction(tiny_model, template):
    with pytest.raises(ValueError, match="hypothesis_template"):
        NLIReranker(tiny_model, hypothesis_template=template)


def test_literal_braces_in_a_template_are_allowed(tiny_model):
    reranker = NLIReranker(tiny_model, hypothesis_template="{{note}} This text is about {}.", show_progress=False)
    assert reranker.hypothesis("cats") == "{note} This text is about cats."


def test_documents_given_as_a_dict_are_refused(tiny_model):
    reranker = NLIReranker(tiny_model, show_progress=False)
    with pytest.raises(TypeError, match=r"got a dict .*keys"):
        reranker.score(QUERY, {"a": "The cat sleeps.", "b": "Dogs bark."})


def test_positional_ids_colliding_with_document_ids_are_refused(tiny_model):
    reranker = NLIReranker(tiny_model, show_progress=False)
    with pytest.raises(ValueError, match=r"duplicate document id '0' among the candidates \(positions 0 and 1\)"):
        reranker.rerank(QUERY, ["plain string gets id 0", Document(id="0", text="explicit id 0")])


@pytest.mark.parametrize("text", ["\u200b\u200b", "\ufeff \u2060", "\u00ad"])
def test_invisible_only_text_is_empty(tiny_model, text):
    reranker = NLIReranker(tiny_model, show_progress=False)
    with pytest.raises(ValueError, match="no text to score"):
        reranker.score(QUERY, [text])
    with pytest.raises(ValueError, match="query is empty"):
        reranker.score(text, PASSAGES)


def test_a_lone_surrogate_is_a_clear_error(tiny_model):
    reranker = NLIReranker(tiny_model, show_progress=False)
    with pytest.raises(ValueError, match="unpaired surrogate"):
        reranker.score("bad \ud800 query", PASSAGES)
    with pytest.raises(ValueError, match="unpaired surrogate"):
        reranker.score(QUERY, ["bad \udfff passage"])


def test_numpy_thresholds_are_accepted(tiny_model):
    reranker = NLIReranker(tiny_model, show_progress=False)
    results = reranker.rerank(QUERY, PASSAGES, min_entailment=np.float32(0.0), max_contradiction=np.float64(1.0))
    assert all(r.kept for r in results)


def test_title_modes_at_sentence_granularity(tiny_model):
    document = Document(id="d", title="Cats and sofas", text="The sofa is red. Rain is expected.")
    segments = {mode: NLIReranker(tiny_model, title=mode, show_progress=False).segments(document)
                for mode in ("sentence", "prefix", "ignore")}  # fmt: skip
    assert segments["ignore"] == ["The sofa is red.", "Rain is expected."]
    assert segments["sentence"] == ["Cats and sofas", "The sofa is red.", "Rain is expected."]
    assert segments["prefix"] == ["Cats and sofas. The sofa is red.", "Cats and sofas. Rain is expected."]
    title_only = Document(id="t", title="Only a title", text="")
    assert NLIReranker(tiny_model, title="ignore", show_progress=False).segments(title_only) == ["Only a title"]
