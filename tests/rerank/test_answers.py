"""rerank.rank_answers: hypotheses from templates, the context (in windows) or each answer as the premise, three
probabilities and the evidence segment, one scoring pass; and its bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from rerank.answers import (
    CONTEXT_ID,
    DEFAULT_ANSWER_TEMPLATE,
    DEFAULT_QUESTION_TEMPLATE,
    RankedAnswer,
    rank_answers,
)
from rerank.nli_reranker import NLIReranker
from rerank.tasks import EvidenceItem
from tests.conftest import build_tiny_deberta

QUESTION = "What is the capital of Australia?"
ANSWERS = ["Sydney", "Canberra", "Perth"]
CONTEXT = (
    "Sydney and Melbourne are the largest cities of Australia, and both wanted to be the capital. As a compromise a "
    "new city was built between them, and Canberra has been the capital of Australia since 1913."
)


def _reranker(path, **settings) -> NLIReranker:
    return NLIReranker(str(path), backend="torch", precision="fp32", show_progress=False, **settings)


@pytest.fixture(scope="module")
def mini_reranker(mini_nli_dir) -> NLIReranker:
    return _reranker(mini_nli_dir, granularity="window")


def _counting(reranker: NLIReranker) -> list[int]:
    calls: list[int] = []
    original = reranker.score_pairs

    def counting(premises, hypotheses):
        calls.append(len(premises))
        return original(premises, hypotheses)

    reranker.score_pairs = counting  # type: ignore[method-assign]
    return calls


def test_the_context_is_the_premise(mini_reranker):
    ranked = rank_answers(QUESTION, ANSWERS, CONTEXT, model=mini_reranker)
    assert [a.rank for a in ranked] == [1, 2, 3] and sorted(a.position for a in ranked) == [0, 1, 2]
    # the mini model is weak (Sydney and Canberra come close, docs/tasks.md); the one absent from the context is last
    assert ranked[-1].answer == "Perth"
    assert [a.hypothesis for a in ranked] == [DEFAULT_ANSWER_TEMPLATE.format(question=QUESTION, answer=a.answer)
                                              for a in ranked]  # fmt: skip
    expected = mini_reranker.score_pairs([CONTEXT] * 3, [a.hypothesis for a in ranked])  # one window: the context
    for answer, row in zip(ranked, expected, strict=True):
        assert [answer.p_entailment, answer.p_neutral, answer.p_contradiction] == pytest.approx(row, abs=1e-6)
        assert answer.evidence.document_id == CONTEXT_ID and answer.evidence.span == (0, len(CONTEXT))
    entailments = [a.p_entailment for a in ranked]
    assert entailments == sorted(entailments, reverse=True)


def test_a_long_context_is_read_in_windows_in_one_pass(mini_nli_dir):
    filler = " ".join(f"Town number {i} has a market on Tuesdays and a small harbour." for i in range(40))
    context = f"{filler} {CONTEXT} {filler}"
    reranker = _reranker(mini_nli_dir, granularity="window", window_tokens=48)
    windows = reranker.segment(__import__("rerank").Document(id="c", text=context))
    assert len(windows) > 5  # longer than the model reads at once, as windows
    calls = _counting(reranker)
    ranked = rank_answers(QUESTION, ANSWERS, context, model=reranker)
    assert calls == [len(windows) * len(ANSWERS)]
    best = ranked[0].evidence
    assert best.span is not None and context[best.span[0] : best.span[1]] == best.text
    assert best.sentence is not None and best.text in context


def test_without_context_each_answer_is_the_premise(mini_reranker):
    answers = [
        "Canberra is the capital of Australia; it was built as a compromise between Sydney and Melbourne.",
        "Bananas grow in bunches on large tropical plants.",
    ]
    calls = _counting(mini_reranker)
    try:
        ranked = rank_answers(QUESTION, answers, model=mini_reranker)
    finally:
        del mini_reranker.score_pairs  # back to the class's method
    assert calls == [2]
    hypothesis = DEFAULT_QUESTION_TEMPLATE.format(question=QUESTION)
    assert {a.hypothesis for a in ranked} == {hypothesis}
    for answer in ranked:
        assert answer.evidence.document_id == str(answer.position) and answer.evidence.text == answer.answer
    expected = mini_reranker.score_pairs(answers, [hypothesis] * 2)
    by_position = {a.position: a for a in ranked}
    for position, row in enumerate(expected):
        assert by_position[position].p_entailment == pytest.approx(row[0], abs=1e-6)


def test_custom_templates(mini_reranker):
    ranked = rank_answers(QUESTION, ANSWERS, CONTEXT, model=mini_reranker, answer_template="{answer} is {question}")
    assert {a.hypothesis for a in ranked} == {f"{a} is {QUESTION}" for a in ANSWERS}
    alone = rank_answers("Who?", ["He did it."], model=mini_reranker, question_template="It says {question}")
    assert alone[0].hypothesis == "It says Who?"


def test_a_two_label_model_reports_no_contradiction(tmp_path):
    directory = build_tiny_deberta(tmp_path / "two", {0: "entailment", 1: "not_entailment"})
    ranked = rank_answers(QUESTION, ANSWERS, CONTEXT, model=str(directory), backend="torch", precision="fp32")
    for answer in ranked:
        assert answer.p_contradiction == 0.0
        assert answer.p_entailment + answer.p_neutral == pytest.approx(1.0)


def test_ties_keep_the_order_given(mini_reranker):
    ranked = rank_answers(QUESTION, ["Canberra", "Canberra"], CONTEXT, model=mini_reranker)
    assert [a.position for a in ranked] == [0, 1]


# ---- bad input -----------------------------------------------------------------------------------------------------


def test_no_answers_gives_an_empty_result_without_a_model(tmp_path):
    assert rank_answers(QUESTION, [], CONTEXT, model=str(tmp_path / "absent-model")) == []


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"question": "  "}, ValueError, "question is empty"),
        ({"question": 42}, TypeError, "question must be a str, got int"),
        ({"answers": "Canberra"}, TypeError, "answers must be a list of str, got a single string"),
        ({"answers": ["Canberra", 7]}, TypeError, "answer at position 1 must be a str, got int"),
        ({"answers": ["Canberra", None]}, TypeError, "answer at position 1 must be a str, got NoneType"),
        ({"answers": ["Canberra", ""]}, ValueError, "answer at position 1 is empty"),
        ({"answers": None}, TypeError, "answers must be a list of str, got NoneType"),
        ({"context": " "}, ValueError, "context is empty"),
        ({"context": ["a list"]}, TypeError, "context must be a str, got list"),
        ({"answer_template": "The answer is {answer}."}, ValueError, "must contain {question} and {answer}"),
        ({"answer_template": "{question} {answer} {x}"}, ValueError, "no other {...} field"),
        ({"answer_template": "{question} {}"}, ValueError, "answer_template must contain"),
        ({"question_template": "About {question} and {answer}."}, ValueError, "question_template must contain"),
        ({"question_template": "About {question"}, ValueError, "not a valid format string"),
    ],
)
def test_bad_inputs_are_refused_before_any_model_loads(tmp_path, kwargs, error, message):
    arguments = {"question": QUESTION, "answers": ANSWERS, "context": CONTEXT, **kwargs}
    with pytest.raises(error) as raised:
        rank_answers(model=str(tmp_path / "absent-model"), **arguments)
    assert message in str(raised.value)


def test_settings_with_a_built_reranker_are_refused(mini_reranker):
    with pytest.raises(ValueError, match="already built NLIReranker"):
        rank_answers(QUESTION, ANSWERS, CONTEXT, model=mini_reranker, window_tokens=64)


def test_the_record_checks_its_probabilities():
    evidence = EvidenceItem(document_id="context", text="t", p_entailment=0.7, p_contradiction=0.1)
    fields = {"answer": "a", "position": 0, "rank": 1, "hypothesis": "h", "evidence": evidence}
    record = RankedAnswer(p_entailment=0.7, p_neutral=0.2, p_contradiction=0.1, **fields)
    with pytest.raises(ValidationError):
        record.rank = 2  # type: ignore[misc]
    with pytest.raises(ValidationError, match="must be 1"):
        RankedAnswer(p_entailment=0.7, p_neutral=0.7, p_contradiction=0.1, **fields)
    with pytest.raises(ValidationError):
        RankedAnswer(p_entailment=0.7, p_neutral=0.2, p_contradiction=0.1, **{**fields, "rank": 0})
    assert np.isclose(sum(record.model_dump()[k] for k in ("p_entailment", "p_neutral", "p_contradiction")), 1.0)
