"""Speed and fidelity of the DEFAULT reranker and of every backend x precision, against sentence-transformers'
CrossEncoder on whole passages (a script, not a test).

Documents, the same for every row: SciFact test claims, each against its BM25 top-``depth`` abstracts, scored one
claim at a time (as a reranker is used). The baseline is ``CrossEncoder.predict(pairs, apply_softmax=True)`` on
(abstract, claim) pairs at max_length 256. The default row is ``NLIReranker(path)`` with nothing set (backend and
precision "auto", granularity "sentence", auto-export on), loaded from a directory of PyTorch weights as a user
would; the other rows name a backend, a precision and a granularity. Speed model: a DeBERTa-v3-small-shaped model
with random weights and the real DeBERTa-v3 tokenizer (speed does not depend on weight values). Fidelity model:
mini-nli-minilm-l6 on SNLI test pairs under the same row settings, against fp32 torch. Each row runs in its own
subprocess (its peak RSS is its own), times the documents ``--repeat`` times and keeps the fastest pass (the
least disturbed by other load on a shared machine).

Run it alone on the machine (other load distorts every row):

    HF_HUB_OFFLINE=1 flock /tmp/nli-rerank-cpu.lock .venv/bin/python benchmarks/rerank_speed.py --workdir /tmp/bench

The first run builds the models and exports under --workdir (minutes); later runs reuse them, except the first-use
measurement, which exports the default into a fresh cache every time.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / ".." / "shared"
TOKENIZER = SHARED / "models" / "deberta-v3-tokenizer"
MINI_NLI = SHARED / "models" / "mini-nli-minilm-l6"
SCIFACT = SHARED / "data" / "retrieval" / "scifact"
SNLI_TEST = SHARED / "data" / "nli" / "snli_test.tsv"
SNLI_VALIDATION = SHARED / "data" / "nli" / "snli_validation.tsv"
ORDER = ["contradiction", "entailment", "neutral"]
BASELINE = "baseline: CrossEncoder.predict, passage"
DEFAULT = "DEFAULT NLIReranker(path)"

# (name, backend, precision, granularity, which model folder the row loads: "hf" weights or an export key)
ROWS = [
    (BASELINE, "baseline", "fp32", "passage", "hf"),
    (DEFAULT, "default", "auto", "sentence", "hf"),
    ("default, granularity passage", "default", "auto", "passage", "hf"),
    ("torch fp32, sentence (the old default)", "torch", "fp32", "sentence", "hf"),
    ("torch bf16, sentence", "torch", "bf16", "sentence", "hf"),
    ("onnx fp32, sentence", "onnx", "fp32", "sentence", "onnx"),
    ("openvino fp32, sentence", "openvino", "fp32", "sentence", "openvino"),
    ("openvino bf16, sentence", "openvino", "bf16", "sentence", "openvino"),
    ("openvino bf16, sentence, stock graph", "openvino", "bf16", "sentence", "openvino-stock"),
    ("torch fp32, passage", "torch", "fp32", "passage", "hf"),
    ("onnx fp32, passage", "onnx", "fp32", "passage", "onnx"),
    ("openvino fp32, passage", "openvino", "fp32", "passage", "openvino"),
    ("openvino bf16, passage", "openvino", "bf16", "passage", "openvino"),
    ("openvino bf16, passage, stock graph", "openvino", "bf16", "passage", "openvino-stock"),
    ("onnx int8 (dynamic), passage", "onnx", "int8", "passage", "onnx"),
]
# export key -> (format, windowed DeBERTa attention); "stock" is what the dynamo exporter gives without it, the
# kind of graph hub repos ship
EXPORTS = {"onnx": ("onnx", True), "openvino": ("openvino", True), "openvino-stock": ("openvino", False)}


def read_snli(path: Path, n: int, start: int = 0) -> list[tuple[str, str, str]]:
    with path.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if r["label"] in ORDER]
    return [(r["premise"], r["hypothesis"], r["label"]) for r in rows[start : start + n]]


def scifact_queries(claims: int, depth: int) -> list[dict]:
    """For the first ``claims`` SciFact test claims: the claim and its BM25 top-``depth`` abstracts (title + text)."""
    import bm25s

    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        corpus = [json.loads(line) for line in handle]
    texts = [f"{d['title']}. {d['text']}".strip() for d in corpus]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (SCIFACT / "queries.jsonl").open(encoding="utf-8"))}
    with (SCIFACT / "qrels" / "test.tsv").open(encoding="utf-8") as handle:
        test_ids = list(dict.fromkeys(line.split("\t")[0] for line in list(handle)[1:]))
    retriever = bm25s.BM25(k1=1.5, b=0.75)
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    chosen = [queries[q] for q in test_ids[:claims]]
    hits, _ = retriever.retrieve(bm25s.tokenize(chosen, stopwords="en", show_progress=False), k=depth,
                                 show_progress=False)  # fmt: skip
    return [
        {"claim": claim, "documents": [texts[int(i)] for i in row]} for claim, row in zip(chosen, hits, strict=True)
    ]


def build_speed_model(directory: Path) -> Path:
    """DeBERTa-v3-small shape (6 layers, hidden 768, 12 heads, ffn 3072, vocab 128100), random weights."""
    if (directory / "config.json").is_file():
        return directory
    import torch
    from transformers import AutoTokenizer, DebertaV2Config, DebertaV2ForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(str(TOKENIZER))
    config = DebertaV2Config(
        vocab_size=128100, hidden_size=768, num_hidden_layers=6, num_attention_heads=12, intermediate_size=3072,
        max_position_embeddings=512, relative_attention=True, position_buckets=256, pos_att_type=["p2c", "c2p"],
        norm_rel_ebd="layer_norm", share_att_key=True, max_relative_positions=-1, layer_norm_eps=1e-7,
        type_vocab_size=0, num_labels=3, id2label=dict(enumerate(ORDER)), label2id={n: i for i, n in enumerate(ORDER)},
        pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    DebertaV2ForSequenceClassification(config).eval().save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return directory


def export(source: Path, out: Path, key: str, **kwargs) -> str:
    """The explicit rows' exports, made once under --workdir (``openvino-stock`` without windowed attention)."""
    from rerank.export import export_model, graph

    fmt, windowed = EXPORTS[key]
    if not (out / "manifest.json").is_file():
        print(f"exporting {source} -> {out}", file=sys.stderr, flush=True)
        original = graph.windowed_relative_attention
        if not windowed:
            graph.windowed_relative_attention = lambda model: contextlib.nullcontext(0)  # type: ignore[assignment]
        try:
            export_model(str(source), out, format=fmt, overwrite=True, **kwargs)
        finally:
            graph.windowed_relative_attention = original
    return str(out)


def prepare(args) -> dict:
    """Build the speed model, the documents, the SNLI pairs and the explicit rows' exports once."""
    work = Path(args.workdir).expanduser()
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"documents-{args.claims}x{args.depth}-snli{args.snli}.json"
    if not data.is_file():
        payload = {"queries": scifact_queries(args.claims, args.depth), "snli": read_snli(SNLI_TEST, args.snli)}
        data.write_text(json.dumps(payload), encoding="utf-8")
    speed = Path(args.speed_model) if args.speed_model else build_speed_model(work / "deberta-v3-small-shape")
    models = {}
    for name, source in (("speed", speed), ("fidelity", MINI_NLI)):
        models[name] = {"hf": str(source)}
        for key in EXPORTS:
            models[name][key] = export(source, work / f"{name}-{source.name}-{key}", key)
    return {"data": str(data), "models": models, "cache": str(work / "auto-cache")}


def make_scorer(spec: dict, directory: str):
    """(claim, documents) -> (n, 3) probabilities [entailment, neutral, contradiction], and a description."""
    if spec["backend"] == "baseline":
        from sentence_transformers import CrossEncoder

        model = CrossEncoder(directory, device="cpu", max_length=spec["max_length"])
        columns = [ORDER.index("entailment"), ORDER.index("neutral"), ORDER.index("contradiction")]

        def score(claim, documents):
            pairs = [(document, claim) for document in documents]
            found = model.predict(pairs, batch_size=32, apply_softmax=True, show_progress_bar=False)
            return np.asarray(found)[:, columns], len(pairs)

        return score, "sentence-transformers torch fp32", ""
    from rerank.nli_reranker import NLIReranker
    from rerank.records import as_documents

    if spec["backend"] == "default":  # exactly what a user writes, plus the row's granularity for the passage row
        options = {} if spec["granularity"] == "sentence" else {"granularity": "passage", "max_length": 256}
        reranker = NLIReranker(directory, **options)
    else:
        reranker = NLIReranker(directory, backend=spec["backend"], precision=spec["precision"],
                               granularity=spec["granularity"], max_length=256, show_progress=False)  # fmt: skip

    def score(claim, documents):
        pairs = sum(reranker.pair_count(document) for document in as_documents(documents))  # after pre-selection
        return reranker.score(claim, documents), pairs

    runner = reranker.model.runner
    return score, f"{runner.backend} {runner.precision}", reranker.model.reason


def worker(spec: dict) -> dict:
    """One row, in its own process: speed on the DeBERTa shape, then fidelity on mini-nli."""
    import torch

    torch.set_num_threads(spec["threads"])
    data = json.loads(Path(spec["data"]).read_text(encoding="utf-8"))
    score, runs_as, reason = make_scorer(spec, spec["speed_dir"])
    score(data["queries"][0]["claim"], data["queries"][0]["documents"][:4])  # warm-up: allocations, compilation
    best, probabilities, pairs = None, [], 0
    for _ in range(spec["repeat"]):
        timings, probabilities, pairs = [], [], 0
        for query in data["queries"]:
            start = time.perf_counter()
            found, count = score(query["claim"], query["documents"])
            timings.append(time.perf_counter() - start)
            probabilities.append(found)
            pairs += count
        best = timings if best is None or sum(timings) < sum(best) else best
    peak_rss = peak_rss_mb()
    snli = data["snli"]
    fidelity_runs_as, fidelity_reason = runs_as, ""
    if spec["backend"] == "baseline":
        from sentence_transformers import CrossEncoder

        model = CrossEncoder(spec["fidelity_dir"], device="cpu")
        columns = [ORDER.index("entailment"), ORDER.index("neutral"), ORDER.index("contradiction")]
        fidelity = np.asarray(model.predict([(p, h) for p, h, _ in snli], batch_size=32, apply_softmax=True,
                                            show_progress_bar=False))[:, columns]  # fmt: skip
    else:
        from rerank.nli_reranker import NLIReranker

        options = {} if spec["backend"] == "default" else {"backend": spec["backend"], "precision": spec["precision"]}
        reranker = NLIReranker(spec["fidelity_dir"], granularity="passage", show_progress=False, **options)
        fidelity = reranker.score_pairs([p for p, _, _ in snli], [h for _, h, _ in snli])
        fidelity_runs_as = f"{reranker.model.runner.backend} {reranker.model.runner.precision}"
        fidelity_reason = reranker.model.reason
    documents = sum(len(q["documents"]) for q in data["queries"])
    depths = [len(q["documents"]) for q in data["queries"]]
    return {
        "documents": documents,
        "pairs": pairs,
        "seconds": sum(best or []),
        "ms_top30": float(np.mean([t / d * 30 * 1000 for t, d in zip(best or [], depths, strict=True)])),
        "peak_rss_mb": peak_rss,
        "entailment": np.concatenate(probabilities)[:, 0].tolist(),
        "fidelity": fidelity.tolist(),
        "runs_as": runs_as,
        "reason": reason,
        "fidelity_runs_as": fidelity_runs_as,
        "fidelity_reason": fidelity_reason,
    }


def first_use(spec: dict) -> dict:
    """The default's first load in an empty export cache (export + checks), a second load, and the cache's size on
    disk; then the fidelity model's first load (so the rows find both in the cache)."""
    from rerank.nli_reranker import NLIReranker

    cache = Path(os.environ["NLI_RERANK_CACHE"])
    start = time.perf_counter()
    reranker = NLIReranker(spec["speed_dir"], show_progress=False)
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    size = sum(path.stat().st_size for path in cache.rglob("*") if path.is_file())
    start = time.perf_counter()
    NLIReranker(spec["speed_dir"], show_progress=False)
    again = time.perf_counter() - start
    start = time.perf_counter()
    NLIReranker(spec["fidelity_dir"], show_progress=False)
    fidelity_seconds = time.perf_counter() - start
    return {"seconds": seconds, "again_seconds": again, "bytes": size, "runs_as": reranker.model.reason,
            "peak_rss_mb": peak, "fidelity_seconds": fidelity_seconds}  # fmt: skip


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM, which starts afresh at exec, unlike ru_maxrss on Linux)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text(encoding="utf-8").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_row(spec: dict, cache: str) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "NLI_RERANK_CACHE": cache}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def accuracy(probabilities: np.ndarray, labels: list[str]) -> float:
    columns = ["entailment", "neutral", "contradiction"]
    return float(np.mean([columns[i] == label for i, label in zip(probabilities.argmax(axis=1), labels, strict=True)]))


def print_table(results: dict, labels: list[str]) -> None:
    reference = np.asarray(results["torch fp32, passage"]["fidelity"])
    base = results[BASELINE]
    base_rate = base["documents"] / base["seconds"]
    header = ("| row | runs as (speed model) | docs/s | vs baseline | pairs/s | ms/query top-30 | peak RSS MB | "
              "runs as (mini-nli) | argmax agree | max dp | accuracy |")  # fmt: skip
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name, row in results.items():
        if "error" in row:
            print(f"| {name} | failed: {row['error'][:100]} |" + " |" * 9)
            continue
        rate = row["documents"] / row["seconds"]
        fidelity = np.asarray(row["fidelity"])
        agree = float((fidelity.argmax(axis=1) == reference.argmax(axis=1)).mean())
        delta = float(np.abs(fidelity - reference).max())
        pair_rate = row["pairs"] / row["seconds"]
        print(f"| {name} | {row['runs_as']} | {rate:.2f} | {rate / base_rate:.2f}x | {pair_rate:.1f} | "
              f"{row['ms_top30']:.0f} | {row['peak_rss_mb']:.0f} | {row['fidelity_runs_as']} | {agree:.2%} | "
              f"{delta:.4f} | {accuracy(fidelity, labels):.2%} |")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=3, help="SciFact test claims (3)")
    parser.add_argument("--depth", type=int, default=32, help="BM25 abstracts per claim (32: 96 documents)")
    parser.add_argument("--snli", type=int, default=500, help="SNLI test pairs for fidelity (500)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2, help="timed passes per row; the fastest is kept (2)")
    parser.add_argument("--rows", nargs="*", default=None, help="only these rows (names as printed)")
    parser.add_argument("--workdir", default=str(Path.home() / ".cache" / "nli-rerank" / "bench"))
    parser.add_argument("--speed-model", default=None, help="a model directory instead of the DeBERTa-v3-small shape")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        print(json.dumps(first_use(spec) if spec.get("first_use") else worker(spec)))
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from rerank.cpu import describe

    setup = prepare(args)
    data = json.loads(Path(setup["data"]).read_text(encoding="utf-8"))
    shutil.rmtree(setup["cache"], ignore_errors=True)  # the default's first use starts from an empty cache
    spec = {"first_use": True, "speed_dir": setup["models"]["speed"]["hf"], "fidelity_dir": str(MINI_NLI)}
    print("# measuring the default's first use (export + checks) ...", file=sys.stderr, flush=True)
    first = run_row(spec, setup["cache"])
    results = {}
    load_before = os.getloadavg()
    for name, backend, precision, granularity, key in ROWS:
        if args.rows and name not in args.rows and name not in {BASELINE, "torch fp32, passage"}:
            continue
        spec = {"backend": backend, "precision": precision, "granularity": granularity, "threads": args.threads,
                "repeat": args.repeat, "max_length": 256, "data": setup["data"],
                "speed_dir": setup["models"]["speed"][key],
                "fidelity_dir": setup["models"]["fidelity"][key]}  # fmt: skip
        print(f"# running {name} ...", file=sys.stderr, flush=True)
        results[name] = run_row(spec, setup["cache"])
    documents = sum(len(q["documents"]) for q in data["queries"])
    print(describe())
    print(f"# rerank speed, {datetime.date.today()}, {args.threads} threads; load average before/after the rows: "
          f"{load_before[0]:.1f} / {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"# documents: {documents} SciFact abstracts ({args.claims} test claims x BM25 top-{args.depth}), scored one "
          f"claim at a time, fastest of {args.repeat} passes; speed model: DeBERTa-v3-small shape, random weights; "
          "baseline and explicit rows at max_length 256, batch 32")  # fmt: skip
    print(
        f"# fidelity: mini-nli-minilm-l6 on {len(data['snli'])} SNLI test pairs (pair level) under the row's "
        "settings, against 'torch fp32, passage'"
    )
    print_table(results, [label for _, _, label in data["snli"]])
    if "error" in first:
        print(f"# first use: failed: {first['error']}")
    else:
        print(f"# first use of the default (empty export cache): {first['seconds']:.0f} s (export, parity check, "
              f"bf16 check), then {first['again_seconds']:.1f} s per load; export cache on disk "
              f"{first['bytes'] / 2**20:.0f} MiB; peak RSS {first['peak_rss_mb']:.0f} MB; mini-nli's first use "
              f"{first['fidelity_seconds']:.0f} s")  # fmt: skip
        print(f"# first use runs: {first['runs_as']}")
    for name in (DEFAULT, "default, granularity passage"):
        row = results.get(name, {})
        if "reason" in row:
            print(f"# {name}: speed model: {row['reason']}")
            print(f"# {name}: mini-nli: {row['fidelity_reason']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
