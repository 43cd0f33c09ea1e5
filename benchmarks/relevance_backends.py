"""Speed of one int8 ONNX relevance cross-encoder under each backend that can run it, side by side.

The shared MS MARCO MiniLM-L12 is quantized dynamically (MatMulInteger), the format onnxruntime's quantize_dynamic
writes; this script is the measurement behind ``backend="auto"`` sending such graphs to onnxruntime first. Each
backend scores the same SciFact claim against the same abstracts, after one warm-up batch; scores (sigmoid of the
logit) are compared with onnxruntime's.

Run (2 shared cores: wrap it in the CPU lock):
    flock /tmp/nli-rerank-cpu.lock python benchmarks/relevance_backends.py
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(SHARED / "models" / "ms-marco-MiniLM-L-12-v2-int8"))
    parser.add_argument("--dataset", type=Path, default=SHARED / "data" / "retrieval" / "scifact")
    parser.add_argument("--passages", type=int, default=64, help="abstracts scored per backend and length")
    parser.add_argument("--max-length", type=int, nargs="+", default=[512, 256])
    parser.add_argument("--backends", nargs="+", default=["onnx", "openvino"])
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    logging.basicConfig(level=logging.ERROR)
    from eval import load_beir
    from rerank import RelevanceReranker
    from rerank.loading import choose_backend

    data = load_beir(args.dataset, "test")
    passages = [document.content for document in data.corpus[: args.passages]]
    query = data.queries[data.query_ids()[0]]
    auto = choose_backend(args.model)
    print(f"{args.model}: {len(passages)} SciFact abstracts x 1 claim; backend='auto' picks {auto}")
    print("| max_length | backend | pairs/s | vs onnx | max abs score diff vs onnx | top-10 overlap vs onnx |")
    print("|---|---|---|---|---|---|")
    for max_length in args.max_length:
        reference, reference_speed = None, None
        for backend in args.backends:
            reranker = RelevanceReranker(args.model, backend=backend, max_length=max_length, show_progress=False)
            reranker.score(query, passages[:8])  # warm-up: first-call allocation
            started = time.perf_counter()
            scores = reranker.score(query, passages)
            speed = len(passages) / (time.perf_counter() - started)
            if reference is None:
                reference, reference_speed = scores, speed
            top = len(set(np.argsort(-scores)[:10]) & set(np.argsort(-reference)[:10]))
            print(f"| {max_length} | {backend} {reranker.model.runner.precision} | {speed:.1f} | "
                  f"{speed / reference_speed:.2f}x | {np.abs(scores - reference).max():.4f} | {top}/10 |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
