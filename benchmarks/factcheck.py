"""SciFact fact-checking with rerank.verify: claim labels and evidence sentences, against two baselines.

Systems, each measured on the 300 dev claims with thresholds chosen on the 809 train claims:
- majority label: every claim gets the train set's most frequent label (SUPPORT); no evidence predicted.
- lexical overlap: a sentence's "entailment" is the share of the claim's content words (retrievers' stemmed
  tokenizer, stopwords removed) it contains; with the negation cue, when exactly one of claim and sentence holds a
  negation word (NEGATIONS) that share counts as contradiction instead; neutral is the rest. Decided by
  rerank.verify's rule, so without the cue it never predicts CONTRADICT.
- NLI: the mini NLI model, sentence granularity, rerank.verify's rule at its default thresholds (0.5 / 0.5) and at
  the thresholds chosen on train.
Thresholds: the grid GRID x GRID over (min_entailment, max_contradiction); the pair with the best train label
macro-F1 (ties: better train evidence F1, then closer to 0.5 / 0.5) is reported on dev.

Evidence: first the cited abstracts (SciFact's oracle setting), then BM25 (stemmed) top --k abstracts of the whole
corpus per claim. Scores are cached in --cache (SQLite), so a rerun costs no model time.

Run (2 shared cores: wrap it in the CPU lock):
    flock /tmp/nli-rerank-cpu.lock python benchmarks/factcheck.py --k 3
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eval import CachedScorer, Claim, FactCheckReport, evaluate_factcheck, load_scifact_claims, load_scifact_sentences
from rerank.cpu import describe
from rerank.verify import DEFAULT_MAX_CONTRADICTION, DEFAULT_MIN_ENTAILMENT

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
GRID = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
NEGATIONS = frozenset({"no", "not", "never", "neither", "nor", "none", "without", "cannot", "fail", "fails", "failed"})
_WORD = re.compile(r"[a-z0-9]+")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--model", default=str(SHARED / "models" / "mini-nli-minilm-l6"))
    parser.add_argument("--k", type=int, default=3, help="BM25 depth in the retrieval setting (abstracts per claim)")
    parser.add_argument("--backend", default="torch", help="inference backend (pinned, so cached scores stay valid)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on 2 shared cores)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "factcheck.sqlite")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "factcheck.json")
    return parser.parse_args()


class Memo:
    """score_pairs in front of a slower one (the SQLite cache): each pair looked up once per run."""

    def __init__(self, score_pairs):
        self.score_pairs, self.rows = score_pairs, {}

    def __call__(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        todo = list(dict.fromkeys(pair for pair in zip(premises, hypotheses, strict=True) if pair not in self.rows))
        if todo:
            computed = self.score_pairs([p for p, _ in todo], [h for _, h in todo])
            self.rows.update(zip(todo, np.asarray(computed, dtype=np.float64), strict=True))
        return np.array([self.rows[pair] for pair in zip(premises, hypotheses, strict=True)]).reshape(-1, 3)


class LexicalOverlap:
    """The lexical baseline's score_pairs (see the module docstring)."""

    def __init__(self, negation: bool):
        from retrievers.tokenize import Tokenizer

        self.tokenize = Tokenizer().tokenize
        self.negation = negation

    def __call__(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(premises), 3))
        for i, (premise, hypothesis) in enumerate(zip(premises, hypotheses, strict=True)):
            claim = set(self.tokenize(hypothesis))
            overlap = len(claim & set(self.tokenize(premise))) / len(claim) if claim else 0.0
            negated = bool(NEGATIONS & set(_WORD.findall(premise.lower())))
            flipped = self.negation and negated != bool(NEGATIONS & set(_WORD.findall(hypothesis.lower())))
            rows[i] = (0.0, 1.0 - overlap, overlap) if flipped else (overlap, 1.0 - overlap, 0.0)
        return rows


def majority(claims: Sequence[Claim], train: Sequence[Claim]) -> tuple[str, FactCheckReport]:
    """Every claim labelled with train's most frequent label, no evidence: scored by the same report."""
    from eval.factcheck import ClaimPrediction, report_predictions
    from rerank.verify import Verdict

    label = Counter(c.label for c in train).most_common(1)[0][0]
    verdict = Verdict(claim="-", label="SUPPORTS", confidence=1.0, reason="majority baseline")
    predictions = [ClaimPrediction(c.id, label, {}, 0.0, 0.0, verdict) for c in claims]
    return label, report_predictions(claims, predictions)


def choose(train, documents, scorer, evidence_ids=None) -> tuple[tuple[float, float], dict]:
    """The (min_entailment, max_contradiction) of GRID x GRID with the best train label macro-F1."""
    sweep = {}
    for min_e in GRID:
        for max_c in GRID:
            report = evaluate_factcheck(train, documents, scorer, min_entailment=min_e, max_contradiction=max_c,
                                        evidence_ids=evidence_ids)  # fmt: skip
            sweep[(min_e, max_c)] = report
    best = max(sweep, key=lambda t: (round(sweep[t].label_macro_f1, 10), round(sweep[t].selection_f1, 10),
                                     -abs(t[0] - 0.5) - abs(t[1] - 0.5)))  # fmt: skip
    return best, sweep


def row(name: str, report: FactCheckReport, thresholds: str) -> str:
    r = report
    cells = [r.selection_precision, r.selection_recall, r.selection_f1, r.labelled_f1, r.label_accuracy,
             r.label_macro_f1]  # fmt: skip
    return f"| {name} | {thresholds} | " + " | ".join(f"{value:.3f}" for value in cells) + " |"


HEADER = (
    "| system | thresholds (min_entailment / max_contradiction) | evidence P | evidence R | evidence F1 | "
    "labelled F1 | label accuracy | label macro-F1 |\n|---|---|---|---|---|---|---|---|"
)


def setting(title, train, dev, documents, nli, lexical, evidence=None) -> dict:
    """One table: majority, lexical without and with the negation cue (train thresholds), NLI at 0.5 / 0.5 and at
    train thresholds, on dev."""
    ids_train, ids_dev = (evidence or {}).get("train"), (evidence or {}).get("dev")
    label, base = majority(dev, train)
    lexical_rows = {}
    for name, scorer in lexical.items():
        (lex_e, lex_c), _ = choose(train, documents, scorer, ids_train)
        report = evaluate_factcheck(dev, documents, scorer, min_entailment=lex_e, max_contradiction=lex_c,
                                    evidence_ids=ids_dev)  # fmt: skip
        lexical_rows[name] = (report, lex_e, lex_c)
    default = evaluate_factcheck(dev, documents, nli, min_entailment=DEFAULT_MIN_ENTAILMENT,
                                 max_contradiction=DEFAULT_MAX_CONTRADICTION, evidence_ids=ids_dev)  # fmt: skip
    (nli_e, nli_c), sweep = choose(train, documents, nli, ids_train)
    tuned = evaluate_factcheck(dev, documents, nli, min_entailment=nli_e, max_contradiction=nli_c,
                               evidence_ids=ids_dev)  # fmt: skip
    print(f"\n{title}\n{HEADER}")
    print(row(f"majority label ({label}, from train)", base, "-"))
    for name, (report, lex_e, lex_c) in lexical_rows.items():
        print(row(name, report, f"{lex_e:g} / {lex_c:g} (train)"))
    print(row("mini NLI, rerank.verify", default, f"{DEFAULT_MIN_ENTAILMENT:g} / {DEFAULT_MAX_CONTRADICTION:g}"))
    print(row("mini NLI, rerank.verify", tuned, f"{nli_e:g} / {nli_c:g} (train)"))
    print(f"confusion, mini NLI at train thresholds (rows gold SUPPORT/CONTRADICT/NOINFO, columns predicted): "
          f"{tuned.confusion}; train macro-F1 {sweep[(nli_e, nli_c)].label_macro_f1:.3f}")  # fmt: skip
    return {
        "majority": base.to_dict() | {"label": label},
        **{
            name: report.to_dict() | {"min_entailment": e, "max_contradiction": c}
            for name, (report, e, c) in lexical_rows.items()
        },
        "nli_default": default.to_dict(),
        "nli_train_thresholds": tuned.to_dict() | {"min_entailment": nli_e, "max_contradiction": nli_c},
    }


def retrieve(claims: Sequence[Claim], retriever, k: int) -> dict[str, list[str]]:
    return {c.id: [cand.document.id for cand in retriever.retrieve(c.text, k)] for c in claims}


def main() -> int:
    args = parse_args()
    logging.basicConfig(level=logging.ERROR)
    started = time.time()
    print(f"# factcheck, {time.strftime('%Y-%m-%d')}\n{describe()}")
    print("command: " + " ".join(["python", "benchmarks/factcheck.py", *sys.argv[1:]]))
    from rerank import NLIReranker
    from retrievers import BM25Retriever

    folder = args.shared / "data" / "factcheck" / "scifact"
    train = load_scifact_claims(folder / "claims_train.jsonl")
    dev = load_scifact_claims(folder / "claims_dev.jsonl")
    documents = load_scifact_sentences(folder / "corpus_sentences.jsonl.gz")
    reranker = NLIReranker(args.model, granularity="sentence", fusion_weight=None, backend=args.backend,
                           threads=args.threads, batch_size=args.batch_size, show_progress=False)  # fmt: skip
    cached = CachedScorer(reranker, args.cache)
    nli = Memo(cached.score_pairs)
    lexical = {"lexical overlap": Memo(LexicalOverlap(negation=False)),
               "lexical overlap + negation cue": Memo(LexicalOverlap(negation=True))}  # fmt: skip
    print(f"model {args.model} ({reranker.model.runner.backend} {reranker.model.runner.precision}, "
          f"threads {args.threads}), sentence granularity; {len(train)} train / {len(dev)} dev claims")  # fmt: skip
    results = {"cited": setting("Cited abstracts given (oracle retrieval), SciFact dev:", train, dev, documents,
                                nli, lexical)}  # fmt: skip

    retriever = BM25Retriever(list(documents.values()), show_progress=False)
    evidence = {"train": retrieve(train, retriever, args.k), "dev": retrieve(dev, retriever, args.k)}
    cited = [c for c in dev if c.cited_doc_ids]
    found = sum(any(d in evidence["dev"][c.id] for d in c.cited_doc_ids) for c in cited) / len(cited)
    gold = [c for c in dev if c.evidence]
    found_gold = sum(all(d in evidence["dev"][c.id] for d in c.evidence) for c in gold) / len(gold)
    title = (f"BM25 (stemmed) top {args.k} abstracts of {len(documents)} per claim, SciFact dev (a cited abstract in "
             f"the top {args.k} for {found:.1%} of claims; every gold-evidence abstract for {found_gold:.1%} of the "
             f"{len(gold)} SUPPORT/CONTRADICT claims):")  # fmt: skip
    results["bm25"] = setting(title, train, dev, documents, nli, lexical, evidence) | {
        "k": args.k,
        "cited_found": found,
        "gold_found": found_gold,
    }
    print(f"\nmodel pairs: {cached.misses} scored now, {cached.hits} from the cache; {time.time() - started:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
