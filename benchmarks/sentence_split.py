"""Sentence splitting speed: the former quadratic ``split_sentences`` against the current linear one.

Texts of 0.7 to 11 MB are built by repeating a few abstracts (abbreviations, initials, decimals, brackets, quotes)
as one string, the way a whole document without its own split reaches the splitter. The former splitter is the
reference oracle kept in tests/rerank/test_sentences.py; both must return the same sentences at every size. The
former one takes minutes at 11 MB (about 6x per doubling): ``--old-max-mb`` leaves it out above a size.

Usage:
    flock /tmp/nli-rerank-cpu.lock .venv/bin/python benchmarks/sentence_split.py
    .venv/bin/python benchmarks/sentence_split.py --sizes 0.7 1.4 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rerank.sentences import split_sentences  # noqa: E402
from tests.rerank.test_sentences import reference_split  # noqa: E402

ABSTRACTS = [
    "Aspirin is widely used for the secondary prevention of cardiovascular events, e.g. myocardial infarction and "
    "stroke. Smith et al. reported a relative risk reduction of 0.22 (95% CI 0.15-0.29) in a cohort of 12,400 "
    "patients (see Fig. 2). The effect was smaller in women, i.e. 0.12 vs. 0.25 in men. Dr. J. R. Miller argued "
    'that "the benefit is offset by bleeding." Bleeding rates rose from 1.1% to 1.7% per year. 3 trials were '
    "stopped early [Ref. 14]. Further work is needed.",
    "Background: Tumour necrosis factor (TNF) inhibitors reduce joint damage in rheumatoid arthritis. Methods: We "
    "randomised 640 patients to adalimumab or placebo for 52 wk. (approx. 80% completed follow-up). Results: The "
    "mean change in the modified Sharp score was 0.8 vs. 2.7 units! Serious infections occurred in 4.2% and 2.5%, "
    "resp. Conclusions: Early treatment slows progression; cf. Jan. 2019 guidance, Vol. 3, pp. 112-118.",
    "Why do some bacteria survive antibiotic exposure? Persister cells, a dormant subpopulation, tolerate high "
    "doses without resistance mutations. Using single-cell imaging (Fig. 4A) we show that ppGpp levels predict "
    "dormancy. Mutants lacking relA and spoT formed 10-fold fewer persisters. 'These data,' as Prof. Lee notes, "
    '"point to the stringent response." Über-expression of the toxin HipA restored tolerance in Escherichia '
    "coli K-12 etc. Nevertheless, in vivo relevance remains unclear.",
]


def build_text(megabytes: float) -> str:
    """About ``megabytes`` million characters of abstracts, separated like paragraphs."""
    block = "\n\n".join(ABSTRACTS) + "\n\n"
    size = int(megabytes * 1_000_000)
    return (block * (size // len(block) + 1))[:size]


def best_seconds(function: Callable[[str], list[str]], text: str, repeats: int) -> tuple[float, list[str]]:
    best, result = float("inf"), []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(text)
        best = min(best, time.perf_counter() - start)
    return best, result


def cpu_description() -> tuple[str, str]:
    """The CPU model and its feature flags, from /proc/cpuinfo where there is one, else from ``platform``."""
    cpuinfo = Path("/proc/cpuinfo")
    fields: dict[str, str] = {}
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    model = fields.get("model name") or platform.processor() or platform.machine()
    flags = fields.get("flags") or fields.get("Features") or "unknown"
    return model, flags


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.7, 1.4, 2.8, 5.6, 11.0], help="text sizes, MB")
    parser.add_argument("--repeats", type=int, default=3, help="runs per size of the linear splitter (best is kept)")
    parser.add_argument("--old-max-mb", type=float, default=11.0, help="run the former splitter up to this size")
    args = parser.parse_args(argv)

    model, flags = cpu_description()
    print(f"CPU: {model}; {os.cpu_count()} cores; Python {platform.python_version()}")
    print(f"CPU flags: {flags}")
    print()
    print("| size (MB) | sentences | old (s) | new (s) | old / new | old s/MB | new s/MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for megabytes in args.sizes:
        text = build_text(megabytes)
        new_seconds, new_sentences = best_seconds(split_sentences, text, args.repeats)
        if megabytes <= args.old_max_mb:
            old_seconds, old_sentences = best_seconds(reference_split, text, 1)  # minutes at 11 MB: one run
            if old_sentences != new_sentences:
                raise SystemExit(f"the splitters disagree at {megabytes} MB")
            ratio = f"{old_seconds / new_seconds:.0f}x"
            cells = [f"{old_seconds:.3f}", f"{new_seconds:.3f}", ratio, f"{old_seconds / megabytes:.3f}"]
        else:
            cells = ["-", f"{new_seconds:.3f}", "-", "-"]
        row = [f"{megabytes:g}", f"{len(new_sentences):,}", *cells, f"{new_seconds / megabytes:.4f}"]
        print("| " + " | ".join(row) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
