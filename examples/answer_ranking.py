"""QA answer ranking: which candidate answer does the context support?

``rerank.rank_answers`` turns each (question, answer) into a statement ("The answer to '<question>' is <answer>.")
and scores it against the context (read in windows when long), all answers in one pass; each answer gets its
entailment, neutral and contradiction probabilities and the context window they come from. Offline, with the small
test model of the project's shared folder by default, on three questions of the hand-written QA set
(tests/data/qa_answers.jsonl):

    python examples/answer_ranking.py
    python examples/answer_ranking.py --model cross-encoder/nli-deberta-v3-small

The default model (mini-nli-minilm-l6) is a weak test asset (on the 30-question set it puts the right answer first
less often than a real NLI model would; docs/tasks.md has the numbers). Use a real NLI model for real ranking.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rerank import ModelLoadError, NLIReranker, rank_answers

HERE = Path(__file__).resolve().parent
MINI_MODEL = HERE.parents[1] / "shared" / "models" / "mini-nli-minilm-l6"
QA_SET = HERE.parent / "tests" / "data" / "qa_answers.jsonl"
QUESTIONS = ("q07", "q15", "q23")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model", default=str(MINI_MODEL), help=f"NLI model directory or hub id (default {MINI_MODEL})"
    )
    parser.add_argument("--questions", nargs="+", default=QUESTIONS, help=f"ids in {QA_SET.name} (default {QUESTIONS})")
    args = parser.parse_args()
    if args.model == str(MINI_MODEL) and not MINI_MODEL.is_dir():
        print(
            f"answer_ranking: the default model {MINI_MODEL} is absent; pass --model path/to/nli-model", file=sys.stderr
        )
        return 1
    items = {item["id"]: item for item in map(json.loads, QA_SET.read_text(encoding="utf-8").splitlines())}
    unknown = [question for question in args.questions if question not in items]
    if unknown:
        print(f"answer_ranking: no question {unknown} in {QA_SET}", file=sys.stderr)
        return 1
    try:
        reranker = NLIReranker(args.model, granularity="window", show_progress=False)
    except ModelLoadError as error:
        print(f"answer_ranking: {error}", file=sys.stderr)
        return 1
    for question_id in args.questions:
        item = items[question_id]
        answers = sorted([item["answer"], *item["wrong"]])  # alphabetical: the right one is not always first
        ranked = rank_answers(item["question"], answers, context=item["context"], model=reranker)
        print(f"\nquestion: {item['question']}\ncontext: {item['context']}")
        for answer in ranked:
            right = "  <- right answer" if answer.answer == item["answer"] else ""
            print(f"  {answer.rank}. {answer.answer:<20} entailment {answer.p_entailment:.2f}  neutral "
                  f"{answer.p_neutral:.2f}  contradiction {answer.p_contradiction:.2f}{right}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
