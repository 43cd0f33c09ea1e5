"""An NLI model on NLI test sets: accuracy, macro-F1, expected calibration error (15 bins) and Brier score.

Run (2 shared cores: wrap it in the CPU lock):
    flock /tmp/nli-rerank-cpu.lock python benchmarks/eval_nli.py
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from eval import CachedScorer, evaluate_nli, load_nli_tsv
from rerank.cpu import describe

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SETS = ["snli_test", "mnli_mismatched_sample1000"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(SHARED / "models" / "mini-nli-minilm-l6"))
    parser.add_argument("--sets", nargs="+", default=SETS, help=f"names in ../shared/data/nli (default {SETS})")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--backend", default="torch", help="backend (default torch: the rows in docs are torch fp32)")
    parser.add_argument("--precision", default="fp32", help="precision (default fp32)")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "scores.sqlite")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "eval_nli.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    from rerank import NLIReranker

    reranker = NLIReranker(args.model, granularity="passage", fusion_weight=None, max_length=args.max_length,
                           backend=args.backend, precision=args.precision, show_progress=False)  # fmt: skip
    scorer = CachedScorer(reranker, args.cache)
    print(f"# eval_nli, {time.strftime('%Y-%m-%d')}\n{describe()}")
    print(f"model {args.model}, {reranker.model.runner.backend} {reranker.model.runner.precision}, "
          f"max_length {args.max_length}")  # fmt: skip
    print("| set | n | accuracy | macro-F1 | ECE (15 bins) | Brier | pairs/s (recorded when scored) |")
    print("|---|---|---|---|---|---|---|")
    reports = {}
    for name in args.sets:
        examples = load_nli_tsv(SHARED / "data" / "nli" / f"{name}.tsv")
        probabilities, seconds, pairs = scorer.score_pairs_timed(examples.premises, examples.hypotheses)
        report = evaluate_nli(examples.labels, probabilities)
        reports[name] = report.to_dict()
        rate = f"{pairs / seconds:.0f}" if seconds > 0 else "n/a"
        print(f"| {name} | {report.n} | {report.accuracy:.4f} | {report.macro_f1:.4f} | {report.ece:.4f} | "
              f"{report.brier:.4f} | {rate} |")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": args.model, "reports": reports}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
