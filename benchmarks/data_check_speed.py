"""Speed and memory of checking a large data file and counting its tokens.

Writes an alpaca JSON Lines file of generated records (about 500 characters each, words
drawn from the sample data with a seeded random generator) into a temporary folder,
then, in a fresh process per file size so that memory figures are the run's own, times:

- the streaming check, ``desktop_app.data.checking.check_file`` (``load_records`` if
  that module is missing);
- token counting with the built-in demo model's tokenizer,
  ``desktop_app.engine.token_stats.token_length_stats``, over the records streamed
  from the file (``open_data`` + ``check_item``), rendered with the chat template as
  training renders them.

It prints wall time, records per second, peak resident memory (RSS) and RSS growth for
each step, at each size; memory that stays flat from the smaller file to the larger
shows the streaming works. Before timing, the token figures for the first few hundred
records are compared with ``encode_records``, the training code.

The demo model is converted from its GGUF file into ENCLAVE_HOME's cache the first time
(about 20 s, not timed); leave ENCLAVE_HOME as it is to reuse that copy.

Enclave runs with ``TOKENIZERS_PARALLELISM=false`` (``core/offline.py``), so the tokenizer
uses one core; ``--parallel-tokenizer`` lifts that in the measuring process only, to show
what the setting costs.

    python benchmarks/data_check_speed.py [--sizes 25000,100000] [--max-length 1024]
        [--parallel-tokenizer]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "resources" / "sample_data"
CHECKED_AGAINST_TRAINING = 300


def _vocabulary() -> tuple[list[str], list[int]]:
    """Words of the sample data with cumulative frequencies, for realistic text."""
    counts: collections.Counter[str] = collections.Counter()
    for path in sorted(SAMPLE_DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            for value in json.loads(line).values():
                counts.update(re.findall(r"[A-Za-z£0-9,'-]+", value.lower()))
    words = list(counts)
    cumulative, total = [], 0
    for word in words:
        total += counts[word]
        cumulative.append(total)
    return words, cumulative


def _generator(seed: int) -> Callable[[], dict[str, str]]:
    words, cumulative = _vocabulary()
    rng = random.Random(seed)

    def sentences(count: int, low: int, high: int, end: str = ".") -> str:
        parts = []
        for _ in range(count):
            chosen = rng.choices(words, cum_weights=cumulative, k=rng.randint(low, high))
            parts.append(" ".join(chosen).capitalize().rstrip(",") + end)
        return " ".join(parts)

    def record() -> dict[str, str]:
        return {
            "instruction": sentences(1, 9, 18, "?"),
            "input": sentences(1, 15, 30) if rng.random() < 0.3 else "",
            "output": sentences(rng.randint(4, 6), 9, 17),
        }

    return record


def write_records(path: Path, count: int, seed: int = 0) -> float:
    """Write ``count`` generated alpaca records; returns the mean characters per record."""
    record = _generator(seed)
    characters = 0
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(count):
            item = record()
            characters += sum(len(value) for value in item.values())
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
    return characters / count


class PeakMemory:
    """Highest RSS of this process while the ``with`` block runs, sampled every 20 ms."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.start = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakMemory:
        self.start = self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def _streamed_records(path: Path) -> Iterator[Any]:
    """The file's usable records, read one at a time."""
    from desktop_app.data.loading import iter_usable_records

    return iter_usable_records(path)


def _check(path: Path) -> dict[str, Any]:
    try:
        from desktop_app.data.checking import check_file
    except ImportError:
        from desktop_app.data.loading import load_records

        data = load_records(path)
        return {"how": "load_records", "valid": len(data.records), "problems": len(data.problems)}
    report = check_file(path)
    return {"how": "check_file", "valid": report.rows_valid, "problems": len(report.problems)}


def _same_as_training(path: Path, tokenizer: Any, max_length: int) -> bool:
    import itertools

    from desktop_app.engine.sft_data import encode_records
    from desktop_app.engine.token_stats import token_length_stats

    head = list(itertools.islice(_streamed_records(path), CHECKED_AGAINST_TRAINING))
    _, report = encode_records(head, tokenizer, max_length, False)
    stats = token_length_stats(head, tokenizer, max_length)
    return (stats.total_tokens, stats.trainable_tokens) == (
        report.total_tokens,
        report.trainable_tokens,
    )


def measure(count: int, max_length: int, folder: Path, parallel: bool) -> dict[str, Any]:
    """Generate, check and count tokens in this process; returns the figures."""
    from desktop_app.core.offline import enforce_offline_environment

    enforce_offline_environment()
    if parallel:
        os.environ["TOKENIZERS_PARALLELISM"] = "true"
    path = folder / f"generated-{count}.jsonl"
    started = time.perf_counter()
    mean_chars = write_records(path, count)
    figures: dict[str, Any] = {
        "records": count,
        "mean_chars": mean_chars,
        "file_mib": path.stat().st_size / 2**20,
        "generate_s": time.perf_counter() - started,
    }

    with PeakMemory() as memory:
        started = time.perf_counter()
        figures["check"] = _check(path)
        figures["check_s"] = time.perf_counter() - started
    figures["check_peak_mib"] = memory.peak / 2**20
    figures["check_growth_mib"] = (memory.peak - memory.start) / 2**20

    started = time.perf_counter()
    from desktop_app.core.config import DEMO_MODEL
    from desktop_app.engine.loading import load_tokenizer
    from desktop_app.engine.model_files import prepare_model_folder, resolve_model_source
    from desktop_app.engine.token_stats import format_token_stats, token_length_stats

    tokenizer, _ = load_tokenizer(prepare_model_folder(resolve_model_source(DEMO_MODEL)))
    figures["setup_s"] = time.perf_counter() - started
    figures["matches_training"] = _same_as_training(path, tokenizer, max_length)

    with PeakMemory() as memory:
        started = time.perf_counter()
        stats = token_length_stats(_streamed_records(path), tokenizer, max_length)
        figures["tokens_s"] = time.perf_counter() - started
    figures["tokens_peak_mib"] = memory.peak / 2**20
    figures["tokens_growth_mib"] = (memory.peak - memory.start) / 2**20
    figures["token_count"] = stats.count
    figures["total_tokens"] = stats.total_tokens
    figures["token_report"] = format_token_stats(stats)
    figures["process_peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    path.unlink()
    return figures


def _print_figures(row: dict[str, Any]) -> None:
    count = row["records"]
    total = row["check_s"] + row["tokens_s"]
    print(
        f"\n{count:,} records, {row['mean_chars']:.0f} characters each on average "
        f"({row['file_mib']:.1f} MiB; generated in {row['generate_s']:.1f} s)"
    )
    print(
        f"  check ({row['check']['how']}): {row['check_s']:6.2f} s, "
        f"{count / row['check_s']:>9,.0f} records/s, peak RSS {row['check_peak_mib']:,.0f} MiB "
        f"(+{row['check_growth_mib']:,.0f} MiB); {row['check']['valid']:,} valid, "
        f"{row['check']['problems']:,} problems"
    )
    print(
        f"  tokens:        {row['tokens_s']:6.2f} s, {count / row['tokens_s']:>9,.0f} records/s, "
        f"peak RSS {row['tokens_peak_mib']:,.0f} MiB (+{row['tokens_growth_mib']:,.0f} MiB); "
        f"{row['total_tokens']:,} tokens"
    )
    print(
        f"  total (check + tokens): {total:.2f} s; tokenizer setup {row['setup_s']:.1f} s "
        f"(imports, demo model folder, tokenizer; not in the total); process peak RSS "
        f"{row['process_peak_mib']:,.0f} MiB"
    )
    agrees = "yes" if row["matches_training"] else "NO"
    print(f"  token totals equal encode_records' on the first {CHECKED_AGAINST_TRAINING}: {agrees}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25000,100000", help="record counts, comma-separated")
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument(
        "--parallel-tokenizer", action="store_true", help="let the tokenizer use every core"
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        figures = measure(args.child, args.max_length, Path(args.folder), args.parallel_tokenizer)
        print(json.dumps(figures))
        return
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; max_length {args.max_length}; tokenizer on "
        + ("every core" if args.parallel_tokenizer else "one core (TOKENIZERS_PARALLELISM=false)")
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="enclave-bench-") as folder:
        for size in (int(text) for text in args.sizes.split(",")):
            command = [sys.executable, __file__, "--child", str(size), "--folder", folder]
            command += ["--max-length", str(args.max_length)]
            command += ["--parallel-tokenizer"] if args.parallel_tokenizer else []
            completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
            if completed.returncode != 0:
                print(f"{size:,} records: failed\n{completed.stderr.strip()[-2000:]}")
                continue
            row = json.loads(completed.stdout.strip().splitlines()[-1])
            rows.append(row)
            _print_figures(row)
    if rows:
        print("\nToken lengths of the largest file:\n" + rows[-1]["token_report"])


if __name__ == "__main__":
    main()
