"""Real NLI behaviour with the small trained model in ../shared/models/mini-nli-minilm-l6."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from rerank import Candidate, Document, NLIReranker
from rerank.loading import load_model

LABELS = ("entailment", "neutral", "contradiction")  # the reranker's column order


@pytest.fixture(scope="module")
def mini_model(mini_nli_dir):
    return load_model(str(mini_nli_dir), precision="fp32")  # fp32: compared with fp32 references to 1e-5


@pytest.fixture(scope="module")
def snli_pairs(shared_dir):
    path = shared_dir / "data" / "nli" / "snli_test.tsv"
    with path.open(encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if row["label"] in LABELS]
    rng = np.random.default_rng(0)
    return [rows[i] for i in rng.choice(len(rows), size=200, replace=False)]


@pytest.mark.slow
def test_snli_accuracy_and_argmax_match_the_models_own_logits(mini_model, mini_nli_dir, snli_pairs):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    reranker = NLIReranker(mini_model, granularity="passage", show_progress=False)
    premises = [row["premise"] for row in snli_pairs]
    hypotheses = [row["hypothesis"] for row in snli_pairs]
    scores = reranker.score_pairs(premises, hypotheses)
    predicted = [LABELS[i] for i in scores.argmax(axis=1)]
    accuracy = np.mean([p == row["label"] for p, row in zip(predicted, snli_pairs, strict=True)])
    assert accuracy > 0.6, f"accuracy {accuracy:.3f} on 200 SNLI test pairs"

    # Reference: the plain transformers model, its own id2label, no batching tricks.
    tokenizer = AutoTokenizer.from_pretrained(mini_nli_dir)
    model = AutoModelForSequenceClassification.from_pretrained(mini_nli_dir).eval()
    with torch.inference_mode():
        encoded = tokenizer(premises, hypotheses, padding=True, truncation=True, return_tensors="pt")
        logits = model(**encoded).logits.numpy()
    reference = [model.config.id2label[i].lower() for i in logits.argmax(axis=1)]
    assert predicted == reference
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    label_index = {label.lower(): i for i, label in model.config.id2label.items()}
    np.testing.assert_allclose(scores, probabilities[:, [label_index[label] for label in LABELS]], atol=1e-5)


@pytest.mark.slow
def test_fp32_scores_do_not_depend_on_batch_size_or_order(mini_model, snli_pairs):
    premises = [row["premise"] for row in snli_pairs[:40]]
    hypotheses = [row["hypothesis"] for row in snli_pairs[:40]]
    expected = NLIReranker(mini_model, batch_size=1, show_progress=False).score_pairs(premises, hypotheses)
    permutation = np.random.default_rng(1).permutation(40)
    for batch_size in (7, 32):
        reranker = NLIReranker(mini_model, batch_size=batch_size, show_progress=False)
        np.testing.assert_allclose(reranker.score_pairs(premises, hypotheses), expected, atol=1e-5)
        shuffled = reranker.score_pairs([premises[i] for i in permutation], [hypotheses[i] for i in permutation])
        np.testing.assert_allclose(shuffled, expected[permutation], atol=1e-5)


def test_entailing_passage_ranks_above_contradicting_one(mini_model):
    reranker = NLIReranker(mini_model, granularity="passage", fusion_weight=None, show_progress=False)
    query = "A man is playing an instrument."
    passages = [
        Document(id="contradicts", text="Nobody is playing music; the stage is empty."),
        Document(id="neutral", text="The man is famous in his home town."),
        Document(id="entails", text="A man is playing a guitar on stage."),
    ]
    results = reranker.rerank(query, passages)
    assert results[0].document.id == "entails"
    by_id = {r.document.id: r for r in results}
    assert by_id["entails"].scores.entailment > 0.5
    assert by_id["contradicts"].scores.contradiction > 0.5
    filtered = reranker.rerank(query, passages, max_contradiction=0.5)
    assert {r.document.id for r in filtered if not r.kept} == {"contradicts"}


def test_sentence_granularity_finds_the_supporting_sentence(mini_model):
    reranker = NLIReranker(mini_model, granularity="sentence", fusion_weight=None, show_progress=False)
    document = Document(
        id="abstract",
        text="The concert started late. A man is playing a guitar on stage. The audience was large.",
    )
    (result,) = reranker.rerank("A man is playing an instrument.", [document])
    assert result.evidence.index == 1
    assert result.scores.entailment > 0.5


def test_fusion_keeps_a_strong_retriever_order_when_entailment_is_flat(mini_model):
    reranker = NLIReranker(mini_model, granularity="passage", fusion_weight=2.0, show_progress=False)
    texts = ["The man is famous.", "The man is tall.", "The man is old."]  # all neutral to the query
    candidates = [
        Candidate(document=Document(id=str(i), text=t), retriever="bm25", retriever_score=s, retriever_rank=i + 1)
        for i, (t, s) in enumerate(zip(texts, [30.0, 10.0, 1.0], strict=True))
    ]
    results = reranker.rerank("A man is playing an instrument.", candidates)
    assert [r.document.id for r in results] == ["0", "1", "2"]
