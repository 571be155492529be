"""`python -m bench [--large] [--only NAME]`: run the benchmarks, print a table, save JSON."""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import store_growth

RESULTS = Path(__file__).parent / "results" / "latest.json"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--large", action="store_true", help="also 1M statements (slow)")
    parser.add_argument("--only", choices=["store"], help="run one benchmark")
    args = parser.parse_args()
    report: dict[str, Any] = {"machine": machine(), "date": datetime.now(UTC).isoformat()}
    sizes = [10_000, 100_000] + ([1_000_000] if args.large else [])
    print(f"Communique benchmarks on {report['machine']}")
    print("\nAdd one statement (record_page: dedup lookups, version, LSH reprint check)")
    growth = store_growth.run(sizes)
    report["store_growth"] = growth
    print(f"{'archive size':>14} {'median ms':>10} {'p90 ms':>8} {'fill s':>8}")
    for size in sizes:
        row = growth[str(size)]
        print(
            f"{size:>14,} {row['add_one_median_ms']:>10} {row['add_one_p90_ms']:>8} "
            f"{row['fill_seconds']:>8}"
        )
    print(f"growth {sizes[0]:,} → {sizes[-1]:,}: {growth['growth_ratio']}× (target ≤ 1.5×)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nSaved {RESULTS}")


if __name__ == "__main__":
    main()
