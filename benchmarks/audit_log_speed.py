"""Speed of the audit log: appending, verifying, reading, filtering and exporting.

For each size, writes a log of that many entries with ``AuditLog.append`` (each append
takes the file lock, reads the log's tail, writes one line and fsyncs the log and
head.json, as in the app) into a temporary workspace, then times:

- ``verify_log`` (every entry's hash and link, and head.json);
- ``read_entries`` (every entry with its line number), and ``read_and_verify``, the
  audit viewer's background job (verify, read, parse the times, list the runs);
- ``filter_entries`` by type, by run and date, and by text, as the viewer does in the
  GUI thread;
- ``export_log`` (copy, verify the copy, sha256, the audit_exported entry);
- with ``--viewer``: the GUI-thread part of showing a reading in the audit viewer
  (verification banner, filter lists, table model), off-screen.

Entries are drawn from a mix of realistic types and details with a seeded generator.
``--direct`` writes the chain without ``append`` (the same bytes, far faster) for sizes
where appending would take minutes; the append rate is then measured on the first
``--append-sample`` entries only.

    python benchmarks/audit_log_speed.py [--sizes 10000,100000] [--direct]
        [--append-sample 5000] [--viewer]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RUNS = [f"/home/officer/Enclave/runs/run-202611{day:02d}-0915{day:02d}-lora" for day in range(1, 9)]
TEMPLATES: list[tuple[str, dict[str, Any], bool]] = [
    ("app_started", {"version": "0.4.1"}, False),
    ("dataset_imported", {"path": "/shares/hr/policy_handbook_qa.jsonl", "records": 1240,
                          "sha256": "a1b2" * 16}, True),
    ("pii_scanned", {"path": "/shares/hr/policy_handbook_qa.jsonl",
                     "counts": {"email": 14, "phone": 6, "iban": 1}}, True),
    ("pii_decision", {"decision": "redact", "kind": "email, phone, iban"}, True),
    ("run_started", {"method": "lora", "config_hash": "77ce" * 16}, True),
    ("run_finished", {"metrics": {"train_loss": 0.842, "eval_loss": 1.107}}, True),
    ("network_blocked", {"host": "huggingface.co", "port": 443}, False),
]  # fmt: skip


def _details(rng: random.Random) -> tuple[str, dict[str, Any], str | None]:
    event, details, with_run = rng.choice(TEMPLATES)
    return event, dict(details), rng.choice(RUNS) if with_run else None


def _timed(function: Any, *args: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def _write_direct(log: Any, rng: random.Random, count: int, start: int) -> None:
    """Entries start+1..count written as append would write them, without the fsyncs."""
    from desktop_app.core.audit import entry_hash
    from desktop_app.core.manifest import utc_now, who_and_where

    entries = log.entries()
    previous = entries[-1]["hash"] if entries else "0" * 64
    who = who_and_where()
    with open(log.path, "a", encoding="utf-8") as handle:
        for seq in range(start + 1, count + 1):
            event, details, run = _details(rng)
            entry = {"seq": seq, "time": utc_now(), "event": event, "user": who["user"],
                     "host": who["host"], "pid": os.getpid(), "run": run, "details": details,
                     "prev": previous}  # fmt: skip
            entry["hash"] = previous = entry_hash(entry)
            handle.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
    log._write_head(count, previous)


def measure(size: int, direct: bool, append_sample: int, viewer: bool) -> None:
    from desktop_app.core.audit import AuditLog, verify_log
    from desktop_app.core.audit_query import (
        AuditFilter,
        export_log,
        filter_entries,
        read_and_verify,
        read_entries,
    )

    rng = random.Random(size)
    with tempfile.TemporaryDirectory() as folder:
        os.environ["ENCLAVE_HOME"] = folder
        log = AuditLog()
        appended = min(append_sample, size) if direct else size
        started = time.perf_counter()
        for _ in range(appended):
            event, details, run = _details(rng)
            log.append(event, details, run=run)
        append_seconds = time.perf_counter() - started
        if direct:
            _write_direct(log, rng, size, appended)
        size_mib = log.path.stat().st_size / 2**20
        print(f"\n{size:,} entries ({size_mib:.1f} MiB)")
        print(
            f"  append (lock, write, fsync log and head): {appended / append_seconds:8.0f} "
            f"entries/s ({append_seconds * 1000 / appended:.2f} ms each, {appended:,} timed)"
        )
        verification, seconds = _timed(verify_log, log)
        assert verification.intact and verification.entries == size, verification
        print(f"  verify_log:                               {seconds * 1000:8.0f} ms")
        _, seconds = _timed(read_entries, log)
        print(f"  read_entries:                             {seconds * 1000:8.0f} ms")
        snapshot, seconds = _timed(read_and_verify, log)
        print(f"  read_and_verify (the viewer's job):       {seconds * 1000:8.0f} ms")
        entries = snapshot.entries
        today = date.today()
        for label, audit_filter in [
            ("filter by type", AuditFilter(event="dataset_imported")),
            ("filter by run and date", AuditFilter(run=RUNS[0], since=today, until=today)),
            ("search two words", AuditFilter(text="policy_handbook email")),
        ]:
            matched, seconds = _timed(filter_entries, entries, audit_filter)
            print(f"  {label + ':':<41}{seconds * 1000:8.0f} ms ({len(matched):,} match)")
        if viewer:
            _measure_viewer(log, snapshot)
        _, seconds = _timed(export_log, Path(folder) / "export", log)
        print(f"  export_log (copy, verify, sha256):        {seconds * 1000:8.0f} ms")


def _measure_viewer(log: Any, snapshot: Any) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from desktop_app.ui.widgets.audit_viewer import AuditViewer

    app = QApplication.instance() or QApplication([])
    viewer = AuditViewer(log=log)
    viewer.resize(1100, 700)
    viewer.show()
    app.processEvents()
    _, seconds = _timed(viewer._on_read_succeeded, snapshot)
    print(f"  viewer: show a reading (GUI thread):      {seconds * 1000:8.0f} ms")
    started = time.perf_counter()
    viewer.type_filter.setCurrentIndex(viewer.type_filter.findData("network_blocked"))
    app.processEvents()
    seconds = time.perf_counter() - started
    print(f"  viewer: pick a type (GUI thread):         {seconds * 1000:8.0f} ms")
    started = time.perf_counter()
    viewer.search.setText("huggingface")
    viewer.apply_filters()
    app.processEvents()
    seconds = time.perf_counter() - started
    print(f"  viewer: search the text (GUI thread):     {seconds * 1000:8.0f} ms")
    viewer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="entries per log")
    parser.add_argument("--direct", action="store_true", help="write the chain without append")
    parser.add_argument(
        "--append-sample", type=int, default=5000, help="appends timed with --direct"
    )
    parser.add_argument("--viewer", action="store_true", help="also time the audit viewer")
    args = parser.parse_args()
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or platform.machine(),
    ) if Path("/proc/cpuinfo").exists() else platform.processor()  # fmt: skip
    print(f"machine: {model}, {os.cpu_count()} CPUs; Python {platform.python_version()}")
    for size in (int(text) for text in args.sizes.split(",")):
        measure(size, args.direct, args.append_sample, args.viewer)


if __name__ == "__main__":
    main()
