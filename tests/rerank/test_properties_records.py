"""Property tests of the shared records: valid data builds a record, anything else raises only ValueError/TypeError."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rerank.records import (
    PROBABILITY_SUM_TOLERANCE,
    Candidate,
    Document,
    NLIScores,
    as_candidates,
    as_documents,
)

PROPERTY = settings(max_examples=100, deadline=None, derandomize=True, database=None)

# Text a UTF-8 file can hold (no lone surrogates), and text with any code point (surrogates included).
utf8_text = st.text(st.characters(codec="utf-8"), max_size=40)
any_text = st.text(st.characters(), max_size=40)
ids = utf8_text.filter(lambda value: value.strip() != "")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | utf8_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(utf8_text, inner, max_size=4),
    max_leaves=10,
)
metadata = st.dictionaries(utf8_text, json_values, max_size=4)
anything = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), any_text, st.binary(max_size=10),
    st.lists(st.integers(), max_size=3), st.dictionaries(any_text, st.integers(), max_size=3),
)  # fmt: skip
documents = st.builds(Document, id=ids, text=utf8_text, title=st.none() | utf8_text, metadata=metadata)
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)


@PROPERTY
@given(id=ids, text=utf8_text, title=st.none() | utf8_text, metadata=metadata)
def test_document_keeps_valid_data_untouched(id, text, title, metadata):
    document = Document(id=id, text=text, title=title, metadata=metadata)
    assert (document.id, document.text, document.title, document.metadata) == (id, text, title, metadata)
    assert isinstance(document.content, str)


@PROPERTY
@given(id=anything, text=anything, title=anything, metadata=anything)
def test_document_refuses_invalid_data_with_a_validation_error(id, text, title, metadata):
    try:
        document = Document(id=id, text=text, title=title, metadata=metadata)
    except ValidationError as error:
        assert isinstance(error, ValueError)
        return
    assert document.id.strip() and document.id.encode("utf-8")
    assert isinstance(document.text, str) and document.text.encode("utf-8") is not None


@PROPERTY
@given(before=utf8_text, surrogate=surrogates, after=utf8_text, field=st.sampled_from(["id", "text", "title"]))
def test_document_refuses_lone_surrogates_naming_the_field(before, surrogate, after, field):
    values = {"id": "d1", "text": "body", "title": None, field: f"x{before}{surrogate}{after}"}
    with pytest.raises(ValidationError, match=f"document {field} holds an unpaired surrogate"):
        Document(**values)


@PROPERTY
@given(
    document=documents,
    retriever=utf8_text,
    score=st.none() | st.floats(),
    rank=st.integers(min_value=-3, max_value=10**6),
)
def test_candidate_accepts_finite_scores_and_ranks_from_1_only(document, retriever, score, rank):
    valid = (score is None or math.isfinite(score)) and rank >= 1
    if valid:
        candidate = Candidate(document=document, retriever=retriever, retriever_score=score, retriever_rank=rank)
        assert (candidate.document, candidate.retriever_score, candidate.retriever_rank) == (document, score, rank)
    else:
        with pytest.raises(ValidationError):
            Candidate(document=document, retriever=retriever, retriever_score=score, retriever_rank=rank)


@PROPERTY
@given(document=anything, retriever=anything, score=anything, rank=anything)
def test_candidate_refuses_invalid_data_with_a_validation_error(document, retriever, score, rank):
    try:
        Candidate(document=document, retriever=retriever, retriever_score=score, retriever_rank=rank)
    except ValidationError as error:
        assert isinstance(error, ValueError)


@PROPERTY
@given(st.tuples(st.floats(), st.floats(), st.floats()))
def test_nli_scores_valid_exactly_when_probabilities_sum_to_1(triple):
    entailment, neutral, contradiction = triple
    valid = all(0.0 <= x <= 1.0 for x in triple) and abs(sum(triple) - 1.0) <= PROBABILITY_SUM_TOLERANCE
    if valid:
        assert NLIScores(entailment=entailment, neutral=neutral, contradiction=contradiction).neutral == neutral
    else:
        with pytest.raises(ValidationError):
            NLIScores(entailment=entailment, neutral=neutral, contradiction=contradiction)


def _probability_triples():
    weights = st.tuples(*[st.floats(0.0, 1.0)] * 3).filter(lambda w: sum(w) > 0)
    noise = st.tuples(*[st.floats(-1e-6 / 3, 1e-6 / 3)] * 3)
    return st.builds(lambda w, d: tuple(x / sum(w) + e for x, e in zip(w, d, strict=True)), weights, noise)


@PROPERTY
@given(triple=_probability_triples(), as_array=st.sampled_from([None, np.float32, np.float64]))
def test_nli_scores_from_row_accepts_any_triple_summing_to_1(triple, as_array):
    row = triple if as_array is None else np.asarray(triple, dtype=as_array)
    scores = NLIScores.from_row(row)
    values = (scores.entailment, scores.neutral, scores.contradiction)
    assert all(0.0 <= x <= 1.0 for x in values)
    assert values == pytest.approx([float(x) for x in row], abs=1e-6)


@PROPERTY
@given(row=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=2).map(lambda r: [*r, 0.0]), position=st.integers(0, 2))
def test_nli_scores_from_row_refuses_non_finite_values(row, position):
    for bad in (math.nan, math.inf, -math.inf):
        row = list(row)
        row[position] = bad
        with pytest.raises(ValueError, match="finite"):
            NLIScores.from_row(row)


@PROPERTY
@given(st.one_of(anything, st.lists(st.floats() | st.integers() | any_text | st.none(), max_size=5)))
def test_nli_scores_from_row_on_anything_raises_only_type_or_value_errors(row):
    with contextlib.suppress(TypeError, ValueError):
        NLIScores.from_row(row)


items = st.one_of(documents, any_text, anything, documents.map(lambda d: Candidate(document=d)))
containers = st.sampled_from([list, tuple, iter])


@PROPERTY
@given(st.one_of(anything, st.lists(items, max_size=6)), containers)
def test_as_documents_raises_only_type_or_value_errors(values, container):
    try:
        result = as_documents(container(values) if isinstance(values, list) else values)
    except (TypeError, ValueError):
        return
    assert all(isinstance(document, Document) for document in result)
    assert len({document.id for document in result}) == len(result)


@PROPERTY
@given(st.one_of(anything, st.lists(items, max_size=6)), containers)
def test_as_candidates_raises_only_type_or_value_errors(values, container):
    try:
        result = as_candidates(container(values) if isinstance(values, list) else values)
    except (TypeError, ValueError):
        return
    assert all(isinstance(candidate, Candidate) for candidate in result)
    assert len({candidate.document.id for candidate in result}) == len(result)


@PROPERTY
@given(st.lists(utf8_text, max_size=8))
def test_plain_strings_become_documents_numbered_by_position(texts):
    assert [(d.id, d.text) for d in as_documents(texts)] == [(str(i), t) for i, t in enumerate(texts)]
    assert [c.retriever_rank for c in as_candidates(texts)] == list(range(1, len(texts) + 1))
