"""Rows/s of rerank.integrations.ray.rerank_dataset with 1 and 2 actors, one model thread per actor, on a local Ray
bound to 127.0.0.1 (no dashboard, no usage stats, token auth with a token of its own). Prints a table.

Rows: every query of a small set paired with every passage of examples/corpus.jsonl (``--repeat`` copies). Each
run starts its actor pool anew, so the time includes loading the model once per actor (printed separately as the
time of a 1-row run); torch fp32 so the numbers do not depend on a bf16 verdict.

Run (2 shared cores: wrap it in the CPU lock):
    flock /tmp/bench.lock nice -n 5 python benchmarks/ray_actors.py --model ../shared/models/mini-nli-minilm-l6
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

for _name, _value in {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
                      "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}.items():  # fmt: skip
    os.environ.setdefault(_name, _value)  # read when ray is imported: loopback only, see docs/integrations.md

from rerank.cpu import describe  # noqa: E402
from retrievers import load_corpus  # noqa: E402

DEFAULT_MODEL = ROOT.parent / "shared" / "models" / "mini-nli-minilm-l6"
QUERIES = ["Aspirin prevents heart attacks.", "Walking lowers blood pressure.", "Coffee protects the liver.",
           "Sleep helps memory.", "Vitamin D prevents fractures."]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--repeat", type=int, default=4, help="copies of the query x passage rows (default 4)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--actors", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    import ray

    from rerank.integrations.ray import rerank_dataset

    passages = [document.content for document in load_corpus(ROOT / "examples" / "corpus.jsonl")]
    rows = [{"query": q, "text": p} for _ in range(args.repeat) for q in QUERIES for p in passages]
    settings = {"backend": "torch", "precision": "fp32"}
    temp_dir = tempfile.mkdtemp(prefix="ray-")
    ray.init(num_cpus=max(args.actors), include_dashboard=False, object_store_memory=100 * 1024**2,
             _temp_dir=temp_dir, log_to_driver=False, configure_logging=False)  # fmt: skip
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        print(f"machine: {describe()}; os.cpu_count()={os.cpu_count()}; model {args.model}, torch fp32")
        print(f"rows: {len(rows)} ({len(QUERIES)} queries x {len(passages)} passages x {args.repeat})\n")
        print("| actors | threads/actor | 1-row run (start + load) s | all rows s | rows/s |")
        print("|---|---|---|---|---|")
        for actors in args.actors:
            timings = []
            for data in (rows[:1], rows):
                start = time.perf_counter()
                ds = ray.data.from_items(data, override_num_blocks=max(1, min(len(data), 4 * actors)))
                rerank_dataset(ds, model=args.model, settings=settings, batch_size=args.batch_size, actors=actors,
                               cpus_per_actor=1).materialize()  # fmt: skip
                timings.append(time.perf_counter() - start)
            print(f"| {actors} | 1 | {timings[0]:.1f} | {timings[1]:.1f} | {len(rows) / timings[1]:.0f} |")
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
