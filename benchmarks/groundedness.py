"""Groundedness of answers built from SNLI and SICK test (eval.groundedness) with rerank.groundedness.

Data: each premise of the test set gives one answer, a seeded subset of its hypotheses (a third of the answers: one
entailed hypothesis alone), with the premise and 3 other premises of the same half as the retrieved context; gold
sentence labels come from the pairs (entailment -> SUPPORTED, neutral -> UNSUPPORTED, contradiction ->
CONTRADICTED). Answers whose sentences the splitter does not give back are dropped and counted.

Protocol: premises are halved (seeded, grouped by premise); thresholds (min_entailment, max_contradiction) are chosen
on GRID x GRID on one half by sentence label balanced accuracy and reported on the other. SICK is built the same way
and reported with thresholds chosen on its own first half and with those chosen on SNLI. Two label rules:
rerank.groundedness's (support wins: SUPPORTED whenever entailment >= min_entailment) and rerank.verify's (the
stronger of entailment and contradiction wins when both pass their thresholds).

Model: the mini NLI model (trained on SNLI validation and SICK train+trial, never on these test sets), window
granularity, torch fp32. Scores are cached in --cache (SQLite), so a rerun costs no model time.

Run (2 shared cores: wrap it in the CPU lock):
    flock /tmp/nli-rerank-cpu.lock python benchmarks/groundedness.py
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from eval import CachedScorer, load_nli_tsv
from eval.groundedness import (
    GroundednessReport,
    GroundednessSet,
    SentenceScores,
    build_groundedness_set,
    choose_thresholds,
    evaluate_groundedness,
    sentence_scores,
    split_by_premise,
)
from rerank.cpu import describe
from rerank.groundedness import groundedness_many, label_sentences

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
GRID = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
DATASETS = ("snli_test", "sick_test")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--model", default=str(SHARED / "models" / "mini-nli-minilm-l6"))
    parser.add_argument("--seed", type=int, default=0, help="seed of the halves and of the answers")
    parser.add_argument("--distractors", type=int, default=3, help="other premises in each answer's context")
    parser.add_argument("--backend", default="torch", help="inference backend (pinned, so cached scores stay valid)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on 2 shared cores)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "groundedness.sqlite")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "groundedness.json")
    return parser.parse_args()


def stronger_wins(e, c, *, min_entailment: float, max_contradiction: float) -> list[str]:
    """rerank.verify.decide's rule per sentence: when both pass their thresholds, the stronger side wins."""
    e, c = np.asarray(e), np.asarray(c)
    supported = (e >= min_entailment) & ((c <= max_contradiction) | (e >= c))
    contradicted = ~supported & (c > max_contradiction)
    return ["SUPPORTED" if s else "CONTRADICTED" if k else "UNSUPPORTED" for s, k in zip(supported, contradicted,
                                                                                     strict=True)]  # fmt: skip


RULES: dict[str, Callable[..., list]] = {
    "support wins (rerank.groundedness)": label_sentences,
    "stronger wins (rerank.verify)": stronger_wins,
}


def score_set(
    built: GroundednessSet, reranker, scorer: CachedScorer, *, premise_only: bool = False
) -> tuple[SentenceScores, float]:
    """Every answer of the set through groundedness_many (one scoring call); (sentence scores, seconds). With
    ``premise_only`` the context is the answer's own premise alone (no distractors)."""
    start = time.perf_counter()
    passages = [[p for p in e.passages if p.id == e.premise_id or not premise_only] for e in built.examples]
    results = groundedness_many([e.answer for e in built.examples], passages, model=reranker,
                                score_pairs=scorer.score_pairs)  # fmt: skip
    return sentence_scores(built.examples, results), time.perf_counter() - start


def data_row(name: str, half: str, built: GroundednessSet, scores: SentenceScores) -> str:
    counts = Counter(scores.gold)
    full = sum(example.fully_supported for example in built.examples)
    pairs = sum(len(e.labels) * len(e.passages) for e in built.examples)
    gold = f"{counts['SUPPORTED']} / {counts['UNSUPPORTED']} / {counts['CONTRADICTED']}"
    return (f"| {name} | {half} | {len(built)} | {built.dropped} | {len(scores.gold)} | {gold} | "
            f"{full} ({full / len(built):.1%}) | {pairs} |")  # fmt: skip


def result_row(name: str, rule: str, thresholds: str, r: GroundednessReport) -> str:
    recall = " / ".join(f"{r.recall.get(label, float('nan')):.3f}" for label in ("SUPPORTED", "UNSUPPORTED",
                                                                              "CONTRADICTED"))  # fmt: skip
    return (f"| {name} | {rule} | {thresholds} | {r.label_balanced_accuracy:.3f} | {recall} | "
            f"{r.flag_balanced_accuracy:.3f} | {r.flag_roc_auc:.3f} | {r.answer_accuracy:.3f} | "
            f"{1 - r.answer_base_rate:.3f} |")  # fmt: skip


def main() -> int:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING)
    model = Path(args.model)
    if not model.is_dir():
        print(f"model {model} not found (pass --model)", file=sys.stderr)
        return 1
    from rerank.nli_reranker import NLIReranker

    reranker = NLIReranker(str(model), granularity="window", fusion_weight=None, backend=args.backend,
                           precision="fp32", threads=args.threads, batch_size=args.batch_size)  # fmt: skip
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    scorer = CachedScorer(reranker, args.cache)
    sets: dict[tuple[str, str], tuple[GroundednessSet, SentenceScores]] = {}
    seconds = 0.0
    for name in DATASETS:
        pairs = load_nli_tsv(args.shared / "data" / "nli" / f"{name}.tsv")
        for half, part in zip(("select", "report"), split_by_premise(pairs, 0.5, args.seed), strict=True):
            built = build_groundedness_set(part, distractors=args.distractors, seed=args.seed, name=name)
            scores, took = score_set(built, reranker, scorer)
            sets[(name, half)] = (built, scores)
            seconds += took
    chosen = {(name, rule): choose_thresholds(sets[(name, "select")][1], GRID, fn)[:2]
              for name in DATASETS for rule, fn in RULES.items()}  # fmt: skip

    print(describe())
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}; command: python {' '.join(sys.argv)}")
    print(
        f"model: {model.name}, window granularity, {args.backend} fp32, {args.threads} thread(s); "
        f"{seconds:.0f} s scoring ({scorer.misses} pairs computed, {scorer.hits} from the cache {args.cache.name})\n"
    )
    print("| set | half | answers | dropped | sentences | gold S / U / C | fully supported | pairs |")
    print("|---|---|---|---|---|---|---|---|")
    for (name, half), (built, scores) in sets.items():
        print(data_row(name, half, built, scores))
    print("\nReported on the 'report' halves. Label bal. acc: balanced accuracy of the 3 sentence labels; flag: a "
          "sentence not SUPPORTED (gold UNSUPPORTED or CONTRADICTED); ROC-AUC of 1 - entailment for it; answer acc: "
          "'fully supported' per answer; majority: always 'not fully supported'.\n")  # fmt: skip
    print(
        "| set | rule | thresholds (min_e / max_c) | label bal. acc | recall S / U / C | flag bal. acc "
        "| flag ROC-AUC | answer acc | majority |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    out = {"seed": args.seed, "distractors": args.distractors, "grid": GRID, "chosen": {}, "rows": []}
    for name in DATASETS:
        scores = sets[(name, "report")][1]
        for rule, fn in RULES.items():
            options = [("default", (0.5, 0.5))]
            options += [(f"chosen on {source} select", chosen[(source, rule)]) for source in DATASETS
                        if source == name or source == "snli_test"]  # fmt: skip
            for how, (min_e, max_c) in options:
                report = evaluate_groundedness(scores, min_entailment=min_e, max_contradiction=max_c, rule=fn)
                print(result_row(name, rule, f"{min_e:g} / {max_c:g} ({how})", report))
                out["rows"].append({"set": name, "rule": rule, "thresholds": [min_e, max_c], "how": how,
                                    **asdict(report)})  # fmt: skip
    print("\nThe same 'report' answers with only their own premise as context (no distractors), support wins:\n")
    print(
        "| set | context | thresholds (min_e / max_c) | label bal. acc | recall S / U / C | flag bal. acc "
        "| flag ROC-AUC | answer acc | majority |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    rule = next(iter(RULES))
    for name in DATASETS:
        built, with_distractors = sets[(name, "report")]
        alone = score_set(built, reranker, scorer, premise_only=True)[0]
        for context, scores in (("premise + distractors", with_distractors), ("premise only", alone)):
            for how, (min_e, max_c) in (("default", (0.5, 0.5)), ("chosen", chosen[(name, rule)])):
                report = evaluate_groundedness(scores, min_entailment=min_e, max_contradiction=max_c)
                print(result_row(name, context, f"{min_e:g} / {max_c:g} ({how})", report))
                out["rows"].append({"set": name, "rule": rule, "context": context, "thresholds": [min_e, max_c],
                                    "how": how, **asdict(report)})  # fmt: skip
    out["chosen"] = {f"{name} | {rule}": value for (name, rule), value in chosen.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
