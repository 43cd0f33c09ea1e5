"""Sentence splitting speed by language option: the English rule (``language=None``, today's default) against
sentencex (any other language) on the SciFact corpus, one call per abstract as the segmenter makes them; then one
long Chinese text, where sentencex alone takes time quadratic in the paragraph and ``split_sentences`` reads it in
windows.

Columns: best of ``--repeats`` runs; "same as English rule" counts the abstracts whose sentences are identical.

Usage:
    flock /tmp/nli-rerank-cpu.lock .venv/bin/python benchmarks/sentence_split_languages.py
    .venv/bin/python benchmarks/sentence_split_languages.py --repeats 1 --cjk-chars 50000
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rerank.corpus import iter_corpus  # noqa: E402
from rerank.cpu import describe  # noqa: E402
from rerank.sentences import split_sentences  # noqa: E402

SCIFACT = ROOT.parent / "shared" / "data" / "retrieval" / "scifact" / "corpus.jsonl.gz"
CJK_SENTENCES = "研究表明阿司匹林可以降低心脏病的风险。这种效果在女性中较小！为什么有些细菌能够存活？需要进一步研究。"


def best_seconds(split: Callable[[str], list[str]], texts: list[str], repeats: int) -> tuple[float, list[list[str]]]:
    best, result = float("inf"), []
    for _ in range(repeats):
        start = time.perf_counter()
        result = [split(text) for text in texts]
        best = min(best, time.perf_counter() - start)
    return best, result


def sentencex_whole(language: str) -> Callable[[str], list[str]]:
    """sentencex called once on the whole text, stripped pieces (what split_sentences gives below its window)."""
    from sentencex import segment

    return lambda text: [piece.strip() for piece in segment(language, text) if piece.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=SCIFACT, help="a corpus.jsonl[.gz] (default: SciFact)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per splitter (the best is kept)")
    parser.add_argument("--cjk-chars", type=int, default=200_000, help="length of the long Chinese text")
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        raise SystemExit(f"{args.corpus} not found; point --corpus at a corpus.jsonl[.gz] (BEIR layout)")

    texts = [document.text for document in iter_corpus(args.corpus)]
    megabytes = sum(len(text) for text in texts) / 1e6
    print(describe())
    print(f"Python {platform.python_version()}; {args.corpus.parent.name}: {len(texts):,} abstracts, "
          f"{megabytes:.2f} M characters; best of {args.repeats}")  # fmt: skip
    print()
    print("| splitter | sentences | seconds | abstracts/s | M chars/s | same as English rule |")
    print("|---|---:|---:|---:|---:|---:|")
    splitters: list[tuple[str, Callable[[str], list[str]]]] = [
        ("English rule (language=None)", split_sentences),
        ('sentencex English rules (sentencex.segment("en", text))*', sentencex_whole("en")),
        ('sentencex German (language="de")', lambda text: split_sentences(text, language="de")),
        ('sentencex Chinese (language="zh")', lambda text: split_sentences(text, language="zh")),
    ]
    english: list[list[str]] = []
    for name, split in splitters:
        seconds, result = best_seconds(split, texts, args.repeats)
        english = english or result
        same = sum(mine == theirs for mine, theirs in zip(result, english, strict=True))
        row = [name, f"{sum(map(len, result)):,}", f"{seconds:.3f}", f"{len(texts) / seconds:,.0f}",
               f"{megabytes / seconds:.2f}", f"{same:,} ({same / len(texts):.1%})"]  # fmt: skip
        print("| " + " | ".join(row) + " |", flush=True)
    print('\n* called directly: split_sentences(text, language="en") is the English rule, not sentencex.')

    text = (CJK_SENTENCES * (args.cjk_chars // len(CJK_SENTENCES) + 1))[: args.cjk_chars]
    print(f"\nOne Chinese paragraph of {len(text):,} characters (no space after 。！？), one run each:\n")
    print("| splitter | sentences | seconds |")
    print("|---|---:|---:|")
    windowed_seconds, windowed = best_seconds(lambda t: split_sentences(t, language="zh"), [text], 1)
    whole_seconds, whole = best_seconds(sentencex_whole("zh"), [text], 1)
    if windowed != whole:
        raise SystemExit("the windowed split differs from sentencex on the whole text")
    print(f'| split_sentences(text, language="zh") (windows) | {len(windowed[0]):,} | {windowed_seconds:.3f} |')
    print(f"| sentencex.segment on the whole text | {len(whole[0]):,} | {whole_seconds:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
