"""eval.answers: the QA set loader, the candidate shuffle, ranks with pessimistic ties, accuracy@1 and MRR by hand;
and the hand-written set in tests/data."""

from __future__ import annotations

import json

import pytest

from eval.answers import QAItem, candidates, evaluate_answers, load_qa_set, right_answer_rank
from tests.conftest import REPO_ROOT

QA_SET = REPO_ROOT / "tests" / "data" / "qa_answers.jsonl"
ITEMS = [
    QAItem(id="a", question="Q a?", answer="right", wrong=["w1", "w2", "w3"], context="c"),
    QAItem(id="b", question="Q b?", answer="right", wrong=["w1", "w2", "w3"], context="c"),
]


def test_right_answer_rank_counts_ties_against_it():
    assert right_answer_rank([0.9, 0.1, 0.5], 0) == 1
    assert right_answer_rank([0.9, 0.1, 0.5], 1) == 3
    assert right_answer_rank([0.5, 0.5, 0.5], 2) == 3
    with pytest.raises(ValueError, match="got 2 scores for a right answer at position 2"):
        right_answer_rank([0.1, 0.2], 2)


def test_accuracy_and_mrr_by_hand():
    def score(question, answers, context):  # right first for question a, third for b
        if question == "Q a?":
            return [1.0 if a == "right" else 0.0 for a in answers]
        return [{"right": 0.5, "w1": 0.9, "w2": 0.7, "w3": 0.1}[a] for a in answers]

    report = evaluate_answers(ITEMS, score)
    assert report.ranks == {"a": 1, "b": 3}
    assert report.accuracy_at_1 == 0.5 and report.mrr == pytest.approx((1 + 1 / 3) / 2)
    constant = evaluate_answers(ITEMS, lambda q, answers, c: [0.0] * len(answers))
    assert constant.accuracy_at_1 == 0.0 and constant.mrr == pytest.approx(0.25)


def test_the_system_gets_the_context_or_none():
    seen = []
    evaluate_answers(ITEMS[:1], lambda q, answers, c: seen.append(c) or [0.0] * len(answers), use_context=False)
    evaluate_answers(ITEMS[:1], lambda q, answers, c: seen.append(c) or [0.0] * len(answers))
    assert seen == [None, "c"]


def test_a_wrong_number_of_scores_or_an_empty_set_is_refused():
    with pytest.raises(ValueError, match="4 candidates but 1 scores"):
        evaluate_answers(ITEMS, lambda q, answers, c: [1.0])
    with pytest.raises(ValueError, match="empty"):
        evaluate_answers([], lambda q, answers, c: [])


def test_candidates_are_shuffled_by_id_the_same_every_time():
    assert candidates(ITEMS[0]) == candidates(ITEMS[0])
    assert sorted(candidates(ITEMS[0])) == sorted(["right", "w1", "w2", "w3"])
    assert {candidates(item).index(item.answer) for item in load_qa_set(QA_SET)} == {0, 1, 2, 3}


def test_loader_names_the_bad_line(tmp_path):
    path = tmp_path / "qa.jsonl"
    good = {"id": "x", "question": "Q?", "answer": "a", "wrong": ["b"], "context": "a b"}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "wrong": ["a"]}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"(?s)line 3: .*candidates must be distinct"):
        load_qa_set(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"question ids repeat: \['x'\]"):
        load_qa_set(path)
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1"):
        load_qa_set(path)


def test_the_hand_written_set():
    items = load_qa_set(QA_SET)
    assert len(items) == 30 and all(len(item.wrong) == 3 for item in items)
    for item in items:  # the right answer is read from the context (its last word, case aside)
        assert item.answer.split()[-1].lower() in item.context.lower(), item.id
