"""How fast the audit log appends and verifies, on SQLite (and PostgreSQL with --database-url).

    python benchmarks/audit.py [--entries 20000] [--database-url URL] [--json]

Appends N entries (one transaction per entry, as the app does, then in batches of 1,000), then
times `audit.verify` over the whole chain. Uses a fresh SQLite file unless a URL is given; a
PostgreSQL URL must point at an empty, migrated database.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from report import emit  # the sibling module; scripts run with this folder on sys.path
from sqlalchemy.orm import Session

from townhall.core import audit
from townhall.core.db import make_engine, transaction
from townhall.core.migrate import upgrade


def run(entries: int, url: str | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        single = min(entries, 2000)
        started = time.perf_counter()
        for i in range(single):
            with transaction(engine) as session:
                audit.log(session, f"user:{i % 50}", "bench.single", f"case:{i}", {"i": i})
        single_rate = single / (time.perf_counter() - started)

        batched = entries - single
        started = time.perf_counter()
        for start in range(0, batched, 1000):
            with transaction(engine) as session:
                for i in range(start, min(start + 1000, batched)):
                    audit.log(session, "job:import", "bench.batch", f"row:{i}", {"i": i})
        batch_seconds = time.perf_counter() - started

        started = time.perf_counter()
        with Session(engine) as session:
            result = audit.verify(session)
        verify_seconds = time.perf_counter() - started
        engine.dispose()
    if not result.ok or result.checked != entries:
        raise SystemExit(f"verification failed: {result.describe()}")
    return {
        "backend": url.split(":")[0],
        "entries": entries,
        "append_per_second_one_per_transaction": round(single_rate, 1),
        "append_per_second_batched": round(batched / batch_seconds, 1) if batched else None,
        "verify_seconds": round(verify_seconds, 3),
        "verify_entries_per_second": round(entries / verify_seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--database-url")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures = run(args.entries, args.database_url)
    emit(figures, as_json=args.json)


if __name__ == "__main__":
    main()
