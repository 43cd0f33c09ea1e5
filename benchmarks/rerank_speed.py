"""Speed and fidelity of every backend x precision against sentence-transformers' CrossEncoder (a script, not a test).

Pairs, the same for every row: SciFact test claims against their BM25 top-``depth`` abstracts (scored one claim at a
time, as a reranker is used) plus ``short`` short SNLI test pairs. Speed model: a DeBERTa-v3-small-shaped model with
random weights and the real DeBERTa-v3 tokenizer (speed does not depend on weight values). Fidelity model:
mini-nli-minilm-l6 on SNLI test, compared with fp32 torch (the DeBERTa-shaped model's max |delta p(entailment)| is
taken from the speed run itself). Each row runs in its own subprocess so its peak RSS is its own.

Run it alone on the machine (other load distorts every row):

    flock /tmp/nli-rerank-cpu.lock .venv/bin/python benchmarks/rerank_speed.py

The first run builds the models and exports under --workdir (a few minutes); later runs reuse them.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import gzip
import json
import os
import platform
import resource
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

# (name, backend, precision, which exported directory the row loads: "hf", "onnx", "openvino", "openvino-int8")
ROWS = [
    ("torch fp32", "torch", "fp32", "hf"),
    ("torch bf16", "torch", "bf16", "hf"),
    ("onnx fp32", "onnx", "fp32", "onnx"),
    ("onnx int8 (dynamic)", "onnx", "int8", "onnx"),
    ("openvino fp32", "openvino", "fp32", "openvino"),
    ("openvino bf16", "openvino", "bf16", "openvino"),
    ("openvino int8 (static)", "openvino", "int8", "openvino-int8"),
    ("auto (exported dir)", "auto", "fp32", "openvino"),
]


def read_snli(path: Path, n: int, start: int = 0) -> list[tuple[str, str, str]]:
    with path.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if r["label"] in ORDER]
    return [(r["premise"], r["hypothesis"], r["label"]) for r in rows[start : start + n]]


def scifact_pairs(claims: int, depth: int) -> list[list[tuple[str, str]]]:
    """For the first ``claims`` SciFact test claims, (abstract, claim) for their BM25 top-``depth`` abstracts."""
    import bm25s

    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        corpus = [json.loads(line) for line in handle]
    texts = [f"{d['title']} {d['text']}".strip() for d in corpus]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (SCIFACT / "queries.jsonl").open(encoding="utf-8"))}
    with (SCIFACT / "qrels" / "test.tsv").open(encoding="utf-8") as handle:
        test_ids = list(dict.fromkeys(line.split("\t")[0] for line in list(handle)[1:]))
    retriever = bm25s.BM25(k1=1.5, b=0.75)
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    chosen = [queries[q] for q in test_ids[:claims]]
    hits, _ = retriever.retrieve(bm25s.tokenize(chosen, stopwords="en", show_progress=False), k=depth,
                                 show_progress=False)  # fmt: skip
    return [[(texts[int(i)], claim) for i in row] for claim, row in zip(chosen, hits, strict=True)]


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


def prepare(args) -> dict:
    """Build the speed model, the pairs and every export once (reused across runs)."""
    from rerank.export import export_model

    work = Path(args.workdir).expanduser()
    work.mkdir(parents=True, exist_ok=True)
    pairs_file = work / f"pairs-{args.claims}x{args.depth}-{args.short}-{args.snli}.json"
    if not pairs_file.is_file():
        pairs = {
            "scifact": scifact_pairs(args.claims, args.depth),
            "short": [(p, h) for p, h, _ in read_snli(SNLI_TEST, args.short)],
            "snli": read_snli(SNLI_TEST, args.snli, start=args.short),
        }
        pairs_file.write_text(json.dumps(pairs), encoding="utf-8")
    calibration = [(p, h) for p, h, _ in read_snli(SNLI_VALIDATION, 200)]
    calibration += [pair for query in scifact_pairs(40, 3)[20:] for pair in query]  # claims not benchmarked
    models = {}
    speed_source = Path(args.speed_model) if args.speed_model else build_speed_model(work / "deberta-v3-small-shape")
    for name, source in (("speed", speed_source), ("fidelity", MINI_NLI)):
        dirs = {"hf": str(source)}
        for key, fmt, quantize in (("onnx", "onnx", None), ("openvino", "openvino", None),
                                   ("openvino-int8", "openvino", "int8")):  # fmt: skip
            out = work / f"{name}-{source.name}-{key}"
            if not (out / "manifest.json").is_file():
                print(f"exporting {source} -> {out}", file=sys.stderr, flush=True)
                export_model(str(source), out, format=fmt, quantize=quantize, overwrite=True,
                             calibration=calibration if quantize else None)  # fmt: skip
            dirs[key] = str(out)
        models[name] = dirs
    return {"pairs": str(pairs_file), "models": models}


def worker(spec: dict) -> dict:
    """One row, in its own process: speed on the DeBERTa shape, then fidelity on mini-nli."""
    import torch

    torch.set_num_threads(spec["threads"])
    pairs = json.loads(Path(spec["pairs"]).read_text(encoding="utf-8"))
    queries = [[tuple(p) for p in query] for query in pairs["scifact"]] + [[tuple(p) for p in pairs["short"]]]
    score = make_scorer(spec, spec["speed_dir"])
    score(queries[-1][:32])  # warm-up: first-call allocations and graph compilation
    timings, probabilities = [], []
    for query in queries:
        start = time.perf_counter()
        probabilities.append(score(query))
        timings.append(time.perf_counter() - start)
    peak_rss = peak_rss_mb()
    fidelity = make_scorer(spec, spec["fidelity_dir"])(
        [(p, h) for p, h, _ in pairs["snli"]]
    )  # fmt: skip
    scifact_pairs_n = sum(len(q) for q in queries[:-1])
    return {
        "pairs": sum(len(q) for q in queries),
        "seconds": sum(timings),
        "scifact_seconds": sum(timings[:-1]),
        "scifact_pairs": scifact_pairs_n,
        "peak_rss_mb": peak_rss,
        "speed_entailment": np.concatenate(probabilities)[:, 0].tolist(),
        "fidelity_probabilities": fidelity.tolist(),
        "backend": score.backend,
    }


def make_scorer(spec: dict, directory: str):
    """A callable (pairs) -> (n, 3) probabilities [entailment, neutral, contradiction] for the row's setup."""
    if spec["backend"] == "baseline":
        from sentence_transformers import CrossEncoder

        model = CrossEncoder(directory, device="cpu")
        columns = [ORDER.index("entailment"), ORDER.index("neutral"), ORDER.index("contradiction")]

        def score(batch):
            return np.asarray(model.predict(list(batch), batch_size=32, apply_softmax=True, show_progress_bar=False))[
                :, columns
            ]

        score.backend = "sentence-transformers"
        return score
    from rerank.nli_reranker import NLIReranker

    reranker = NLIReranker(directory, backend=spec["backend"], precision=spec["precision"], threads=spec["threads"],
                           batch_size=32, show_progress=False)  # fmt: skip

    def score(batch):
        return reranker.score_pairs([p for p, _ in batch], [h for _, h in batch])

    score.backend = f"{reranker.model.runner.backend} {reranker.model.runner.precision}"
    return score


def profile(spec: dict) -> dict:
    """Where the time goes for one backend on the first claims' SciFact pairs: tokenising vs the graph, and the
    graph's time by operator type (OpenVINO performance counters or onnxruntime's profiler)."""
    from collections import Counter

    from rerank.backends import files
    from rerank.batching import encode_pairs, run_batches
    from rerank.loading import load_model

    pairs = json.loads(Path(spec["pairs"]).read_text(encoding="utf-8"))
    queries = [[tuple(p) for p in query] for query in pairs["scifact"][:4]]
    loaded = load_model(
        spec["speed_dir"], backend=spec["backend"], precision=spec["precision"], threads=spec["threads"]
    )
    ops: Counter = Counter()
    runner = loaded.runner
    if spec["backend"] == "openvino":
        import openvino as ov

        graph = files.find_openvino(spec["speed_dir"]) or files.find_onnx(spec["speed_dir"])
        compiled = ov.Core().compile_model(str(graph), "CPU", {"PERF_COUNT": "YES", "INFERENCE_PRECISION_HINT": "f32",
                                                              "INFERENCE_NUM_THREADS": spec["threads"]})  # fmt: skip
        request = compiled.create_infer_request()

        def runner(features):
            result = request.infer(dict(features))
            for info in request.profiling_info:
                ops[info.node_type] += info.real_time.total_seconds()
            return np.array(result[compiled.output(0)], copy=True)

    tokenize = model = 0.0
    for query in queries:
        start = time.perf_counter()
        encoded = encode_pairs(loaded.tokenizer, [p for p, _ in query], [h for _, h in query], 512)
        tokenize += time.perf_counter() - start
        start = time.perf_counter()
        run_batches(encoded, runner, input_names=loaded.runner.input_names, pad_token_id=loaded.tokenizer.pad_token_id,
                    batch_size=32, show_progress=False)  # fmt: skip
        model += time.perf_counter() - start
    if spec["backend"] == "onnx":
        ops = onnx_profile(spec, queries, loaded)
    total = sum(ops.values()) or 1.0
    return {"tokenize_s": tokenize, "model_s": model, "ops": {k: v / total for k, v in ops.most_common(8)}}


def onnx_profile(spec: dict, queries: list, loaded) -> dict:
    from collections import Counter

    import onnxruntime as ort

    from rerank.backends.onnx_backend import OnnxRunner, session_options
    from rerank.batching import encode_pairs, run_batches

    options = session_options(spec["threads"])
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(spec["pairs"]).parent / "ort-profile")
    session = ort.InferenceSession(loaded.extra["graph"], options, providers=["CPUExecutionProvider"])
    runner = OnnxRunner(session, spec["precision"])
    for query in queries:
        encoded = encode_pairs(loaded.tokenizer, [p for p, _ in query], [h for _, h in query], 512)
        run_batches(encoded, runner, input_names=runner.input_names, pad_token_id=loaded.tokenizer.pad_token_id,
                    batch_size=32, show_progress=False)  # fmt: skip
    trace = Path(session.end_profiling())
    ops: Counter = Counter()
    for event in json.loads(trace.read_text(encoding="utf-8")):
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            ops[event["args"]["op_name"]] += event["dur"] / 1e6
    trace.unlink()
    return ops


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM, which starts afresh at exec, unlike ru_maxrss on Linux)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text(encoding="utf-8").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def native_bf16() -> bool:
    """True when the CPU has bf16 matrix instructions (AVX-512 BF16 or AMX); elsewhere bf16 is emulated."""
    flags = Path("/proc/cpuinfo").read_text(encoding="utf-8") if Path("/proc/cpuinfo").exists() else ""
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))


def worker_spec(args, setup: dict, backend: str, precision: str, key: str) -> dict:
    """What every worker run needs: the backend and precision, threads, the pairs and the speed model's folder."""
    return {
        "backend": backend,
        "precision": precision,
        "threads": args.threads,
        "pairs": setup["pairs"],
        "speed_dir": setup["models"]["speed"][key],
    }


def run_row(spec: dict) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def accuracy(probabilities: np.ndarray, labels: list[str]) -> float:
    columns = ["entailment", "neutral", "contradiction"]
    return float(np.mean([columns[i] == label for i, label in zip(probabilities.argmax(axis=1), labels, strict=True)]))


def token_lengths(pairs: list, tokenizer) -> float:
    return float(
        np.mean([len(tokenizer(p, h, truncation="only_first", max_length=512)["input_ids"]) for p, h in pairs])
    )


def print_table(results: dict, reference: str, baseline: str, labels: list[str]) -> None:
    ref = results[reference]
    ref_fid = np.asarray(ref["fidelity_probabilities"])
    ref_acc = accuracy(ref_fid, labels)
    base_rate = results[baseline]["pairs"] / results[baseline]["seconds"]
    header = ("| row | runs as | pairs/s | speed-up | ms/query top-100 | peak RSS MB | max dp(ent) DeBERTa | "
              "max dp(ent) mini | argmax agree | accuracy | d acc (pt) |")  # fmt: skip
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name, row in results.items():
        if "error" in row:
            print(f"| {name} | failed: {row['error'][:80]} |" + " |" * 9)
            continue
        rate = row["pairs"] / row["seconds"]
        ms_top100 = row["scifact_seconds"] / row["scifact_pairs"] * 100 * 1000
        fid = np.asarray(row["fidelity_probabilities"])
        speed_delta = np.abs(np.asarray(row["speed_entailment"]) - np.asarray(ref["speed_entailment"])).max()
        fid_delta = np.abs(fid[:, 0] - ref_fid[:, 0]).max()
        agree = float((fid.argmax(axis=1) == ref_fid.argmax(axis=1)).mean())
        acc = accuracy(fid, labels)
        print(f"| {name} | {row['backend']} | {rate:.1f} | {rate / base_rate:.2f}x | {ms_top100:.0f} | "
              f"{row['peak_rss_mb']:.0f} | {speed_delta:.1e} | {fid_delta:.1e} | {agree:.2%} | {acc:.2%} | "
              f"{(acc - ref_acc) * 100:+.2f} |")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=10, help="SciFact test claims (10)")
    parser.add_argument("--depth", type=int, default=20, help="BM25 abstracts per claim (20)")
    parser.add_argument("--short", type=int, default=300, help="short SNLI test pairs in the speed set (300)")
    parser.add_argument("--snli", type=int, default=1000, help="SNLI test pairs for fidelity (1000)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", nargs="*", default=None, help="only these rows (names as printed)")
    parser.add_argument("--workdir", default=str(Path.home() / ".cache" / "nli-rerank" / "bench"))
    parser.add_argument("--speed-model", default=None, help="a model directory instead of the DeBERTa-v3-small shape")
    parser.add_argument("--profile", nargs="*", default=[], help="rows to profile (operator time shares)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        print(json.dumps(profile(spec) if spec.get("profile") else worker(spec)))
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    from rerank.backends import AUTO_ORDER
    from rerank.loading import choose_backend

    setup = prepare(args)
    pairs = json.loads(Path(setup["pairs"]).read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(str(TOKENIZER))
    scifact = [tuple(p) for q in pairs["scifact"] for p in q]
    print(f"# rerank speed, {datetime.date.today()}, {cpu_name()}, {os.cpu_count()} cores, {args.threads} threads")
    print(f"# speed set: {len(scifact)} SciFact pairs ({args.claims} test claims x BM25 top-{args.depth}, mean "
          f"{token_lengths(scifact, tokenizer):.0f} tokens) + {len(pairs['short'])} short SNLI test pairs (mean "
          f"{token_lengths(pairs['short'], tokenizer):.0f} tokens), DeBERTa-v3-small shape, random weights, "
          "batch 32, max_length 512")  # fmt: skip
    print(
        f"# fidelity: mini-nli-minilm-l6 on {len(pairs['snli'])} SNLI test pairs vs torch fp32; auto order "
        f"{AUTO_ORDER}; auto picks {choose_backend(setup['models']['speed']['openvino'])!r} for an exported dir"
    )
    rows = [("baseline: CrossEncoder.predict fp32", "baseline", "fp32", "hf"), *ROWS]
    results, notes = {}, []
    for name, backend, precision, key in rows:
        if args.rows and name not in args.rows and not name.startswith(("baseline", "torch fp32")):
            continue
        if precision == "bf16" and not native_bf16():
            why = "torch would emulate it, far slower than fp32" if backend == "torch" else "OpenVINO refuses it"
            notes.append(f"{name}: not measured, this CPU has no native bf16 (AVX-512 BF16 / AMX): {why}")
            continue
        spec = worker_spec(args, setup, backend, precision, key) | {"fidelity_dir": setup["models"]["fidelity"][key]}
        print(f"# running {name} ...", file=sys.stderr, flush=True)
        results[name] = run_row(spec)
    notes.append("onnx bf16: not offered, onnxruntime has no bf16 CPU kernels (it would insert casts around fp32 ones)")
    print_table(results, "torch fp32", rows[0][0], [label for _, _, label in pairs["snli"]])
    for note in notes:
        print(f"# {note}")
    if args.profile:
        for name, backend, precision, key in rows:
            if name not in args.profile:
                continue
            found = run_row(worker_spec(args, setup, backend, precision, key) | {"profile": True})
            if "error" in found:
                print(f"# profile {name}: failed: {found['error']}")
                continue
            share = found["tokenize_s"] / (found["tokenize_s"] + found["model_s"])
            top = ", ".join(f"{op} {part:.0%}" for op, part in found["ops"].items())
            print(f"# profile {name}: tokenising {share:.1%} of the time, the graph {1 - share:.1%}; graph time by "
                  f"operator: {top}")  # fmt: skip
    return 0


def cpu_name() -> str:
    for line in (
        Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines() if Path("/proc/cpuinfo").exists() else []
    ):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    sys.exit(main())
