"""How the Data page copes with a large file: reading it, and showing it.

Writes an alpaca JSON Lines file of generated records (about 500 characters each) and
measures, in this process:

- the background passes the Data page makes (in its worker thread): the check
  (``check_file``) and the preview with the personal-data scan (``build_preview``),
  with wall time and growth of resident memory (RSS) for the preview's rows;
- on the GUI thread: how long handing the finished results to the page's views takes
  (``DataInspector.show_report`` + ``show_preview``: the longest the window is
  unresponsive when a file's results arrive), and how long jumping to the last record
  takes (``show_line``: reveal, select, scroll).

    QT_QPA_PLATFORM=offscreen python benchmarks/data_page_preview.py [--records 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

WORDS = [
    "policy", "claim", "premium", "cover", "excess", "insurer", "customer", "refund",
    "approval", "handbook", "manager", "review", "payment", "renewal", "cancel",
    "notice", "period", "document", "evidence", "report",
]  # fmt: skip


def rss_mib() -> float:
    """Resident memory now, in MiB (Linux)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def write_records(path: Path, count: int) -> None:
    rng = random.Random(7)

    def text(chars: int) -> str:
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < chars:
            words.append(rng.choice(WORDS))
        return " ".join(words)

    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            record = {
                "instruction": f"{index}: " + text(120),
                "input": "",
                "output": text(380),
            }
            handle.write(json.dumps(record) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    from desktop_app.data.checking import check_file
    from desktop_app.ui.data_worker import build_preview
    from desktop_app.ui.widgets.data_views import DataInspector

    app = QApplication([])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.jsonl"
        write_records(path, args.records)
        size_mib = path.stat().st_size / 2**20
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
        print(f"file: {args.records:,} records, {size_mib:.1f} MiB")

        started = time.perf_counter()
        report = check_file(path)
        print(f"check (worker thread):               {time.perf_counter() - started:6.2f} s")

        before = rss_mib()
        started = time.perf_counter()
        preview = build_preview(str(path))
        elapsed = time.perf_counter() - started
        print(
            f"preview + PII scan (worker thread):  {elapsed:6.2f} s, "
            f"rows hold {rss_mib() - before:.0f} MiB"
        )

        inspector = DataInspector()
        inspector.resize(900, 600)
        inspector.show()
        app.processEvents()
        started = time.perf_counter()
        inspector.show_report(report)
        inspector.show_preview(preview)
        app.processEvents()
        shown = time.perf_counter() - started
        print(f"show results (GUI thread):           {shown * 1000:6.1f} ms")

        started = time.perf_counter()
        inspector.show_line(preview.lines[-1])
        app.processEvents()
        jumped = time.perf_counter() - started
        print(f"jump to the last record (GUI):       {jumped * 1000:6.1f} ms")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the process:             {peak:6.0f} MiB")
        inspector.close()


if __name__ == "__main__":
    main()
