"""Load test of `rerank serve`: requests/s and latency at 1, 8 and 32 concurrent clients, with and without
cross-request batching.

Each request is one SciFact test claim with 20 of its BM25 abstracts (POST /rerank). Two servers run on free
loopback ports in subprocesses, one with and one without batching (`--no-batching`), with the default reranker
settings on the mini NLI model unless flags say otherwise. The levels are measured in interleaved rounds (off, on,
on, off, ...), so that a change of machine load hits both modes alike; a level of a round sends a fixed number of
requests and stops early when its time budget is spent, so the script ends by itself. Failed requests are counted
and should be 0. Prints the CPU, then markdown tables (docs/server.md).

Run (2 shared cores: wrap it in the benchmark lock):
    flock /tmp/bench.lock nice -n 5 python benchmarks/serve_load.py
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
    return {"latencies": latencies, "failures": failures, "wall": time.perf_counter() - started}


def summarise(runs: list[dict]) -> dict:
    """One row from the rounds of one mode and level: requests/s over their summed wall time, latency quantiles."""
    latencies = sorted(x for run in runs for x in run["latencies"])
    failures: dict[str, int] = {}
    for run in runs:
        for status, n in run["failures"].items():
            failures[status] = failures.get(status, 0) + n
    wall = sum(run["wall"] for run in runs)
    return {
        "requests": len(latencies),
        "failed": sum(failures.values()),
        "failures": failures,
        "rps": len(latencies) / wall if wall else 0.0,
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else float("nan"),
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
    parser.add_argument("--requests", type=int, nargs="+", default=[8, 32, 64], help="requests per level and round")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of every level")
    parser.add_argument("--budget-s", type=float, default=90, help="time budget of one level in one round")
    parser.add_argument(
        "--server-arg", action="append", default=[],
        help="extra `rerank serve` argument for both servers, e.g. --server-arg=--granularity=passage",
    )  # fmt: skip
    args = parser.parse_args()
    if len(args.requests) != len(args.clients):
        parser.error("give one --requests value per --clients value")
    if not args.data.is_dir():
        parser.error(f"no BEIR folder at {args.data} (give --data)")
    bodies = request_bodies(args.data, args.claims, args.depth)
    print(f"# serve_load, {time.strftime('%Y-%m-%d')}\n{describe().splitlines()[0]}")
    extra = " ".join(args.server_arg) or "default settings"
    print(f"model {Path(args.model).name}, {extra}, {args.depth} abstracts/request, {args.rounds} rounds\n")
    base = ["--model", args.model, *args.server_arg]
    with (
        live_server([*base, "--no-batching"], Path("/tmp/serve_load_single.log")) as single,
        live_server(base, Path("/tmp/serve_load_batched.log")) as batched,
    ):
        servers = {"off": single, "on": batched}
        info = httpx.get(batched.url + "/info", timeout=10).json()
        print(f"served: {info.get('backend', '?')} {info.get('precision', '?')}\n")
        for server in servers.values():
            run_level(server.url, bodies[:2], 1, 2, args.budget_s)  # warm the path once
        rows: dict[tuple[int, str], dict] = {}
        for clients, total in zip(args.clients, args.requests, strict=True):
            runs: dict[str, list[dict]] = {"off": [], "on": []}
            for round_ in range(args.rounds):
                for mode in ("off", "on") if round_ % 2 == 0 else ("on", "off"):
                    runs[mode].append(run_level(servers[mode].url, bodies, clients, total, args.budget_s))
            for mode in ("off", "on"):
                rows[clients, mode] = summarise(runs[mode])
        for server in servers.values():
            server.stop()
    print("| batching | clients | requests | failed | requests/s | p50 latency (s) | p95 latency (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode in ("off", "on"):
        for clients in args.clients:
            row = rows[clients, mode]
            print(f"| {mode} | {clients} | {row['requests']} | {row['failed']}{_statuses(row)} | {row['rps']:.2f} | "
                  f"{row['p50']:.2f} | {row['p95']:.2f} |")  # fmt: skip
    print("\n| clients | requests/s, one at a time | requests/s, batched | batched / one at a time |")
    print("|---:|---:|---:|---:|")
    for clients in args.clients:
        off, on = rows[clients, "off"]["rps"], rows[clients, "on"]["rps"]
        print(f"| {clients} | {off:.2f} | {on:.2f} | {on / off if off else float('nan'):.2f}x |")
    return 0 if all(row["failed"] == 0 for row in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
