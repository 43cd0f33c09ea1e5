"""QA answer ranking on the hand-written set (tests/data/qa_answers.jsonl): accuracy@1 and MRR of the right answer.

Systems, each ranking every question's 4 candidates (the right answer and 3 wrong ones, shuffled by question id;
ties count against the right answer, see eval.answers):
- lexical overlap, with context: an answer's score is the best, over the context's sentences, of
  (share of the answer's content words in the sentence) + (share of the question's); without context, the share of
  the answer's content words found in the question. Content words: the retrievers' stemmed tokenizer (stopwords out).
- NLI: rerank.rank_answers with the given model, torch fp32, with the context as premise (default answer template),
  and without it (each answer text the premise, default question template).

Run (2 shared cores: wrap it in the CPU lock):
    flock /tmp/bench.lock nice -n 5 python benchmarks/answer_ranking.py --model ../shared/models/mini-nli-minilm-l6
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.answers import AnswerReport, evaluate_answers, load_qa_set  # noqa: E402
from rerank.sentences import split_sentences  # noqa: E402

DEFAULT_DATA = ROOT / "tests" / "data" / "qa_answers.jsonl"
DEFAULT_MODEL = ROOT.parent / "shared" / "models" / "mini-nli-minilm-l6"


class LexicalOverlap:
    """The lexical baseline (see the module docstring), as an eval.answers scorer."""

    def __init__(self) -> None:
        from retrievers.tokenize import Tokenizer

        self.tokenize = Tokenizer().tokenize

    def _share(self, words: set[str], text: str) -> float:
        return len(words & set(self.tokenize(text))) / len(words) if words else 0.0

    def __call__(self, question: str, answers: list[str], context: str | None) -> list[float]:
        asked = set(self.tokenize(question))
        if context is None:
            return [self._share(set(self.tokenize(answer)), question) for answer in answers]
        sentences = split_sentences(context)
        return [
            max(self._share(set(self.tokenize(answer)), s) + self._share(asked, s) for s in sentences)
            for answer in answers
        ]


class NLIRanking:
    """rerank.rank_answers as an eval.answers scorer: the score of a candidate is minus its rank."""

    def __init__(self, reranker) -> None:
        self.reranker = reranker

    def __call__(self, question: str, answers: list[str], context: str | None) -> list[float]:
        from rerank.answers import rank_answers

        scores = [0.0] * len(answers)
        for ranked in rank_answers(question, answers, context, model=self.reranker):
            scores[ranked.position] = -float(ranked.rank)
        return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"QA set (default {DEFAULT_DATA})")
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="NLI model directory or hub id")
    args = parser.parse_args()
    from rerank.nli_reranker import NLIReranker

    items = load_qa_set(args.data)
    reranker = NLIReranker(args.model, backend="torch", precision="fp32", show_progress=False)
    systems = [
        ("lexical overlap", "context", LexicalOverlap(), True),
        ("lexical overlap", "none", LexicalOverlap(), False),
        ("NLI rank_answers", "context", NLIRanking(reranker), True),
        ("NLI rank_answers", "none", NLIRanking(reranker), False),
    ]
    from rerank.cpu import describe

    print(describe())
    print(f"QA set: {args.data.name}, {len(items)} questions x {1 + len(items[0].wrong)} candidates; model: "
          f"{args.model}")  # fmt: skip
    print("\n| system | context | accuracy@1 | MRR | seconds |\n|---|---|---:|---:|---:|")
    for name, context, scorer, use_context in systems:
        start = time.perf_counter()
        report: AnswerReport = evaluate_answers(items, scorer, use_context=use_context)
        seconds = time.perf_counter() - start
        print(f"| {name} | {context} | {report.accuracy_at_1:.3f} | {report.mrr:.3f} | {seconds:.1f} |")
        missed = [question for question, rank in report.ranks.items() if rank > 1]
        print(f"<!-- {name}, {context}: right answer not first for {missed} -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
