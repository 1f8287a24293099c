"""`make bench`: every benchmark in turn (each prints its own table)."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = (
    "bench.train_throughput",
    "bench.dashboard_throughput",
    "bench.curves_paint",
    "bench.probe_cost",
    "bench.channels_last",
    "bench.fused_optimizer",
    "bench.gil_contention",
    "bench.run_start",
    "bench.startup",
)


def main() -> int:
    status = 0
    for name in BENCHMARKS:
        print(f"\n## {name}\n", flush=True)
        module = importlib.import_module(name)
        entry = getattr(module, "main", None)
        if entry is None:
            continue
        status |= int(entry([]) or 0) if _takes_argv(entry) else int(entry() or 0)
    return status


def _takes_argv(func) -> bool:
    import inspect

    return bool(inspect.signature(func).parameters)


if __name__ == "__main__":
    sys.exit(main())
