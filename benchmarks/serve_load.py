"""Load test of `rerank serve`: requests/s and latency at 1, 8 and 32 concurrent clients, with and without
cross-request batching.

Each request is one SciFact test claim with 20 of its BM25 abstracts (POST /rerank). The server runs on a free
loopback port in a subprocess (the mini NLI model, torch fp32), once per mode; every level sends a fixed number of
requests and stops early when its time budget is spent, so the script ends by itself. Failed requests are counted
and should be 0. Prints a markdown table (docs/server.md).

Run (2 shared cores: wrap it in the benchmark lock):
    flock /tmp/bench.lock nice -n 5 python benchmarks/serve_load.py --requests 6 16 32
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval import load_beir  # noqa: E402
from rerank.cpu import describe  # noqa: E402
from retrievers import BM25Retriever  # noqa: E402
from tests.server.live import live_server  # noqa: E402

SHARED = ROOT.parent / "shared"


def request_bodies(folder: Path, claims: int, depth: int) -> list[dict]:
    data = load_beir(folder, "test")
    retriever = BM25Retriever(data.corpus, show_progress=False)
    bodies = []
    for query_id in data.query_ids()[:claims]:
        query = data.queries[query_id]
        documents = [
            {"id": c.document.id, "title": c.document.title, "text": c.document.text}
            for c in retriever.retrieve(query, depth)
        ]
        bodies.append({"query": query, "documents": documents})
    return bodies


def run_level(url: str, bodies: list[dict], clients: int, total: int, budget_s: float) -> dict:
    latencies: list[float] = []
    failures: dict[str, int] = {}  # status code (or client error) -> count
    lock = threading.Lock()
    next_index = 0
    stop_at = time.monotonic() + budget_s

    def client() -> None:
        nonlocal next_index
        with httpx.Client(timeout=120) as http:
            while True:
                with lock:
                    if next_index >= total or time.monotonic() > stop_at:
                        return
                    body = bodies[next_index % len(bodies)]
                    next_index += 1
                started = time.perf_counter()
                try:
                    status = http.post(url + "/rerank", json=body).status_code
                except httpx.HTTPError as error:
                    status = type(error).__name__
                ok = status == 200
                elapsed = time.perf_counter() - started
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        failures[str(status)] = failures.get(str(status), 0) + 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "failed": sum(failures.values()),
        "failures": failures,
        "rps": len(latencies) / wall if wall else 0.0,
        "p50": statistics.median(ordered) if ordered else float("nan"),
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else float("nan"),
    }


def _statuses(row: dict) -> str:
    return (
        " (" + ", ".join(f"{n}x {status}" for status, n in sorted(row["failures"].items())) + ")"
        if row["failed"]
        else ""
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(SHARED / "models" / "mini-nli-minilm-l6"))
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "retrieval" / "scifact")
    parser.add_argument("--claims", type=int, default=64, help="distinct claims cycled through")
    parser.add_argument("--depth", type=int, default=20, help="BM25 abstracts per request")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, nargs="+", default=[6, 16, 32], help="requests per level")
    parser.add_argument("--budget-s", type=float, default=90, help="time budget of one level")
    parser.add_argument("--max-length", type=int, default=256, help="token budget per pair")
    parser.add_argument("--granularity", default="passage", choices=["passage", "sentence", "window"])
    args = parser.parse_args()
    if len(args.requests) != len(args.clients):
        parser.error("give one --requests value per --clients value")
    bodies = request_bodies(args.data, args.claims, args.depth)
    print(f"# serve_load, {time.strftime('%Y-%m-%d')}\n{describe().splitlines()[0]}")
    setup = f"torch fp32, granularity {args.granularity}, max_length {args.max_length}"
    print(f"model {Path(args.model).name}, {setup}, {args.depth} abstracts/request\n")
    print("| batching | clients | requests | failed | requests/s | p50 latency (s) | p95 latency (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for batching in (False, True):
        server_args = ["--model", args.model, "--backend", "torch", "--precision", "fp32", "--granularity",
                       args.granularity, "--max-length", str(args.max_length)]  # fmt: skip
        if not batching:
            server_args.append("--no-batching")
        log = Path("/tmp") / f"serve_load_{'batched' if batching else 'single'}.log"
        with live_server(server_args, log) as server:
            run_level(server.url, bodies[:2], 1, 2, args.budget_s)  # warm the path once
            for clients, total in zip(args.clients, args.requests, strict=True):
                row = run_level(server.url, bodies, clients, total, args.budget_s)
                failed = f"{row['failed']}{_statuses(row)}"
                print(f"| {'on' if batching else 'off'} | {clients} | {row['requests']} | {failed} | "
                      f"{row['rps']:.2f} | {row['p50']:.2f} | {row['p95']:.2f} |", flush=True)  # fmt: skip
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
