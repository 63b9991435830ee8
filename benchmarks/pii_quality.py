"""Quality and speed of the personal data scan.

Prints precision and recall per type on the labelled set in tests/data (all rows, and
the rows written after the rules were settled), then how many records per second the
scan gets through: ``scan_text`` on 100,000 synthetic business records of about 500
characters, about one in five holding personal data, and ``scan_file`` on the same
records as a JSON Lines file (reading and parsing included).

    python benchmarks/pii_quality.py [--records 100000] [--show-mistakes]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from desktop_app.data.pii import scan_file, scan_text  # noqa: E402
from desktop_app.data.pii.evaluation import format_score, load_labelled, score  # noqa: E402

LABELLED = ROOT / "tests" / "data" / "pii_labelled.jsonl"

_SENTENCES = [
    "The policyholder reported water damage to the kitchen ceiling on 14/03/2024.",
    "Claim CLM-2024-118273 was reassigned to the property team for review.",
    "The adjuster estimated repairs at £12,480.00 including VAT at 20%.",
    "Please find attached invoice INV-20240315-0042 for the replacement boiler.",
    "Our records show the premium of €1,106.40 was collected on 01.07.2024.",
    "The customer asked for a callback about the renewal terms next week.",
    "Version 10.2.3.4 of the portal fixed the upload timeout reported in ticket 88213.",
    "Order 4111 1111 1111 1112 was dispatched from the warehouse on Tuesday.",
    "The hospital discharged the patient after 3 days; follow-up in 6 weeks.",
    "Salary band C3 ranges from 42,000 to 51,500 with 8% employer pension.",
    "The meeting is scheduled for 10:30 in room 4.12 with the compliance team.",
    "Reference GB83 WEST 1234 5698 7654 32 failed validation and was not paid.",
]
_PERSONAL = [
    "Contact the claimant at {first}.{last}@northwind-mail.co.uk for documents.",
    "She can be reached on +44 20 7946 {n4} during office hours.",
    "Refund to GB82 WEST 1234 5698 7654 32 as agreed with the customer.",
    "The card 4111 1111 1111 1111 was charged twice for the same premium.",
    "US employee SSN 536-22-{n4} appears on the benefits form.",
    "Login from 81.2.{n1}.{n2} was blocked by the firewall.",
    "Her NI number is AB 12 34 56 C according to payroll.",
]
_NAMES = ["anna", "ben", "chloe", "dev", "emma", "farid", "grace", "hugo"]


def synthetic_records(count: int, seed: int = 0) -> list[str]:
    """Texts of about 500 characters; about one in five holds personal data."""
    generator = random.Random(seed)
    texts = []
    for _ in range(count):
        parts: list[str] = []
        while sum(len(part) + 1 for part in parts) < 480:
            parts.append(generator.choice(_SENTENCES))
        if generator.random() < 0.2:
            parts[generator.randrange(len(parts))] = generator.choice(_PERSONAL).format(
                first=generator.choice(_NAMES),
                last=generator.choice(_NAMES),
                n4=f"{generator.randrange(10000):04d}",
                n1=generator.randrange(1, 255),
                n2=generator.randrange(1, 255),
            )
        texts.append(" ".join(parts))
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--show-mistakes", action="store_true")
    args = parser.parse_args()

    print(f"Machine: {platform.platform()}, Python {platform.python_version()}")
    rows = load_labelled(LABELLED)
    for name, subset in (
        ("all rows", rows),
        ("holdout rows only", [row for row in rows if row.get("split") == "holdout"]),
    ):
        negatives = sum(1 for row in subset if not row["pii"])
        print(f"\nLabelled set, {name}: {len(subset)} texts ({negatives} with no personal data)")
        result = score(subset)
        print(format_score(result))
        if args.show_mistakes:
            print("\n".join(result.mistakes))

    texts = synthetic_records(args.records)
    characters = sum(len(text) for text in texts)
    started = time.perf_counter()
    findings = sum(len(scan_text(text)) for text in texts)
    elapsed = time.perf_counter() - started
    print(
        f"\nscan_text: {len(texts):,} records of {characters / len(texts):.0f} characters "
        f"in {elapsed:.1f} s = {len(texts) / elapsed:,.0f} records/s "
        f"({characters / elapsed / 1e6:.1f} M characters/s), {findings:,} findings"
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "synthetic.jsonl"
        with open(path, "w", encoding="utf-8") as handle:
            for text in texts:
                handle.write(json.dumps({"instruction": "Summarise.", "output": text}) + "\n")
        started = time.perf_counter()
        report = scan_file(path)
        elapsed = time.perf_counter() - started
    print(
        f"scan_file: {report.records_scanned:,} JSON Lines records in {elapsed:.1f} s = "
        f"{report.records_scanned / elapsed:,.0f} records/s, {report.total_findings:,} findings"
    )


if __name__ == "__main__":
    main()
