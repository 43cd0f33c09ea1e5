from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from rerank.records import Candidate, Document, NLIScores, SourceScore, as_candidates, as_documents


def test_nli_scores_must_sum_to_one():
    NLIScores(entailment=0.5, neutral=0.3, contradiction=0.2)
    with pytest.raises(ValidationError, match="sum to 1"):
        NLIScores(entailment=0.5, neutral=0.5, contradiction=0.2)


@pytest.mark.parametrize("bad", [-0.1, 1.1, math.nan])
def test_nli_scores_each_in_unit_interval(bad):
    with pytest.raises(ValidationError):
        NLIScores(entailment=bad, neutral=0.5, contradiction=0.5)


def test_nli_scores_from_row_reads_entailment_neutral_contradiction_order():
    scores = NLIScores.from_row(np.array([0.7, 0.2, 0.1]))
    assert (scores.entailment, scores.neutral, scores.contradiction) == pytest.approx((0.7, 0.2, 0.1))


def test_document_content_joins_title_and_text():
    assert Document(id="1", text="Body here.", title="Title").content == "Title. Body here."
    assert Document(id="1", text="Body.", title="Question?").content == "Question? Body."
    assert Document(id="1", text="", title="Only title").content == "Only title"
    assert Document(id="1", text="Just text.").content == "Just text."


def test_document_id_must_not_be_blank():
    with pytest.raises(ValidationError, match="non-empty"):
        Document(id="  ", text="x")


def test_records_are_immutable():
    document = Document(id="1", text="x")
    with pytest.raises(ValidationError):
        document.text = "y"


def test_candidate_rank_starts_at_one_and_score_is_finite():
    document = Document(id="1", text="x")
    with pytest.raises(ValidationError):
        Candidate(document=document, retriever_rank=0)
    with pytest.raises(ValidationError, match="finite"):
        Candidate(document=document, retriever_score=math.nan)
    fused = Candidate(document=document, retriever="hybrid", sources={"bm25": SourceScore(score=3.0, rank=2)})
    assert fused.sources["bm25"].rank == 2


def test_as_documents_accepts_strings_and_documents():
    documents = as_documents(["first", Document(id="x", text="second")])
    assert [(d.id, d.text) for d in documents] == [("0", "first"), ("x", "second")]


@pytest.mark.parametrize("bad", [None, 3, b"bytes", {"text": "x"}])
def test_as_documents_rejects_other_types_naming_position(bad):
    with pytest.raises(TypeError, match="position 1"):
        as_documents(["ok", bad])


def test_as_documents_rejects_a_bare_string():
    with pytest.raises(TypeError, match="single string"):
        as_documents("a passage")


def test_as_candidates_ranks_plain_inputs_in_order():
    candidates = as_candidates(["a", Document(id="d", text="b")])
    assert [(c.document.id, c.retriever_rank, c.retriever_score) for c in candidates] == [
        ("0", 1, None),
        ("d", 2, None),
    ]
