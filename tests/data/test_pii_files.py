"""Scanning data files for personal data, and writing redacted copies of them."""

from __future__ import annotations

import csv
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from desktop_app.core.errors import DataError
from desktop_app.data.pii import (
    Pseudonymizer,
    file_sha256,
    format_pii_report,
    redact_file,
    redact_text,
    scan_file,
)
from desktop_app.data.readers import iter_raw_records

EMAIL = "j.smith@northwind.co.uk"
PHONE = "+44 20 7946 0958"
CARD = "4111 1111 1111 1111"

CHAT = {
    "messages": [
        {"role": "system", "content": "You are the claims assistant."},
        {"role": "user", "content": f"I am at {EMAIL}, phone {PHONE}."},
        {"role": "assistant", "content": f"Thank you. We will write to {EMAIL}."},
    ]
}
SHAREGPT = {
    "conversations": [
        {"from": "human", "value": f"My card is {CARD}"},
        {"from": "gpt", "value": "Please never send card numbers by chat."},
    ]
}
ALPACA = {"instruction": "Summarise the call.", "output": "Customer rang from 020 7946 0958."}


@pytest.fixture
def mixed_file(write_jsonl: Callable[..., Path]) -> Path:
    return write_jsonl([CHAT, "{broken json", SHAREGPT, ALPACA, {"text": "no personal data"}])


def test_scan_names_the_line_and_field_of_each_finding(mixed_file: Path) -> None:
    report = scan_file(mixed_file)
    where = [(f.line, f.field, f.type) for f in report.findings]
    assert where == [
        (1, "messages[1].content", "EMAIL"),
        (1, "messages[1].content", "PHONE"),
        (1, "messages[2].content", "EMAIL"),
        (3, "conversations[0].value", "CREDIT_CARD"),
        (4, "output", "PHONE"),
    ]
    record = json.loads(mixed_file.read_text().splitlines()[0])
    for finding in report.findings[:3]:
        index = int(finding.field.split("[")[1].split("]")[0])
        text = record["messages"][index]["content"]
        assert text[finding.start : finding.end] == finding.value
    assert report.records_scanned == 4
    assert report.skipped_lines == [2]
    assert report.records_with_pii == [1, 3, 4]
    assert report.counts_by_type["EMAIL"] == 2 and report.counts_by_type["IBAN"] == 0


def test_json_report_masks_values_unless_asked(mixed_file: Path) -> None:
    data = scan_file(mixed_file).to_json()
    first = data["findings"][0]  # type: ignore[index]
    assert first == {
        "line": 1,
        "unit": "line",
        "field": "messages[1].content",
        "type": "EMAIL",
        "start": 8,
        "end": 31,
        "preview": "j***@northwind.co.uk",
    }
    assert CARD not in json.dumps(data) and "7946 0958" not in json.dumps(data)
    assert data["records_skipped"] == 1 and data["records_with_pii"] == 3
    full = scan_file(mixed_file).to_json(include_values=True)
    assert full["findings"][0]["value"] == EMAIL  # type: ignore[index]


def test_text_report(mixed_file: Path) -> None:
    text = format_pii_report(scan_file(mixed_file), limit=2)
    assert text.splitlines()[0] == (
        "data.jsonl: 5 pieces of personal data in 3 of 4 records. "
        "1 record could not be read and was not scanned."
    )
    assert (
        "line 1, field 'messages[1].content', characters 8-31: EMAIL j***@northwind.co.uk" in text
    )
    assert "... and 3 more (use --json to list them all)." in text
    assert "**** **** **** 1111" not in text  # beyond the limit
    assert "does not find names" in text


def test_csv_findings_carry_the_file_line_of_their_row(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text(
        'prompt,response\n"A question\nover two lines","Mail x.y@acme-corp.com"\n'
        "Second,IP 10.1.2.3\n",
        encoding="utf-8",
    )
    report = scan_file(path)
    assert [(f.line, f.field, f.type) for f in report.findings] == [
        (2, "response", "EMAIL"),
        (4, "response", "IP_ADDRESS"),
    ]


def test_scan_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        scan_file(tmp_path / "nope.jsonl")


def test_tags_replace_each_value_with_its_type(mixed_file: Path, tmp_path: Path) -> None:
    summary = redact_file(mixed_file, tmp_path / "out.jsonl")
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4  # the broken line is left out, not copied unscanned
    chat = json.loads(lines[0])
    assert chat["messages"][1]["content"] == "I am at [EMAIL], phone [PHONE]."
    assert chat["messages"][0] == CHAT["messages"][0]
    assert json.loads(lines[2])["output"] == "Customer rang from [PHONE]."
    assert json.loads(lines[3]) == {"text": "no personal data"}
    assert summary.counts_by_type["EMAIL"] == 2 and summary.values_replaced == 5
    assert (summary.records_written, summary.records_changed) == (4, 3)
    assert summary.skipped_lines == (2,)
    assert summary.destination_sha256 == file_sha256(tmp_path / "out.jsonl")
    assert summary.to_json()["mode"] == "tags" and summary.salt_given is None


def test_pseudonyms_are_consistent_across_records_and_spellings(
    write_jsonl: Callable[..., Path], tmp_path: Path
) -> None:
    source = write_jsonl(
        [
            {"text": f"Call {PHONE} or mail {EMAIL}"},
            {"text": "Call 020 7946 0958 or mail J.Smith@Northwind.co.uk"},
            {"text": "Other customer: +33 6 12 34 52 60"},
        ]
    )
    summary = redact_file(source, tmp_path / "out.jsonl", "pseudonyms", salt="s3cret")
    first, second, third = (
        json.loads(line)["text"] for line in (tmp_path / "out.jsonl").read_text().splitlines()
    )
    assert first == second
    assert first.startswith("Call +1 555 ") and "@example.com" in first
    assert third.split(": ")[1] != first.split(" ")[1:4]
    assert summary.salt_given is True
    again = redact_file(source, tmp_path / "again.jsonl", "pseudonyms", salt="s3cret")
    assert again.destination_sha256 == summary.destination_sha256  # deterministic
    other = redact_file(source, tmp_path / "other.jsonl", "pseudonyms", salt="another")
    assert other.destination_sha256 != summary.destination_sha256


def test_pseudonyms_look_like_their_type_and_are_never_found_again(tmp_path: Path) -> None:
    pseudonymizer = Pseudonymizer("k")
    text = (
        f"{EMAIL}, {PHONE}, {CARD}, GB82 WEST 1234 5698 7654 32, SSN 536-22-1234, "
        "host 10.14.22.87 or fe80::1ff:fe23:4567:890a, NI AB 12 34 56 C, NHS 943 476 5919"
    )
    redacted = redact_text(text, "pseudonyms", pseudonymizer)
    assert len(redacted.findings) == 9
    assert redact_text(redacted.text, "tags").findings == []
    assert "0000 " in redacted.text and "XX00 0000 " in redacted.text and "000-" in redacted.text
    assert "QQ " in redacted.text and "999 " in redacted.text and "2001:db8::" in redacted.text
    assert len(pseudonymizer) == 9


def test_a_shared_pseudonymizer_keeps_two_files_consistent(
    write_jsonl: Callable[..., Path], tmp_path: Path
) -> None:
    train = write_jsonl([{"text": f"mail {EMAIL}"}], "train.jsonl")
    validation = write_jsonl([{"text": f"reply to {EMAIL}"}], "validation.jsonl")
    shared = Pseudonymizer()
    redact_file(train, tmp_path / "train.red.jsonl", "pseudonyms", pseudonymizer=shared)
    redact_file(validation, tmp_path / "val.red.jsonl", "pseudonyms", pseudonymizer=shared)
    stand_in = json.loads((tmp_path / "train.red.jsonl").read_text())["text"].split()[-1]
    assert json.loads((tmp_path / "val.red.jsonl").read_text())["text"].endswith(stand_in)


def test_the_source_is_never_changed_or_overwritten(mixed_file: Path, tmp_path: Path) -> None:
    before = file_sha256(mixed_file)
    summary = redact_file(mixed_file, tmp_path / "copy.jsonl", "pseudonyms")
    assert file_sha256(mixed_file) == before == summary.source_sha256
    for same in (mixed_file, tmp_path / "." / mixed_file.name):
        with pytest.raises(DataError, match="is the original file"):
            redact_file(mixed_file, same, overwrite=True)
    assert file_sha256(mixed_file) == before


def test_an_existing_destination_is_kept_unless_overwriting(
    mixed_file: Path, tmp_path: Path
) -> None:
    destination = tmp_path / "copy.jsonl"
    destination.write_text("keep me\n")
    with pytest.raises(DataError, match="already exists"):
        redact_file(mixed_file, destination)
    assert destination.read_text() == "keep me\n"
    redact_file(mixed_file, destination, overwrite=True)
    assert "[EMAIL]" in destination.read_text()
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith(".partial")] == []


def test_the_copy_must_have_the_source_type(mixed_file: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="must be a .jsonl file"):
        redact_file(mixed_file, tmp_path / "copy.csv")
    with pytest.raises(DataError, match="folder does not exist"):
        redact_file(mixed_file, tmp_path / "missing" / "copy.jsonl")
    with pytest.raises(ValueError, match="unknown redaction mode"):
        redact_file(mixed_file, tmp_path / "copy.jsonl", "blur")


def test_csv_copy_keeps_delimiter_header_and_row_lines(tmp_path: Path) -> None:
    source = tmp_path / "data.csv"
    source.write_bytes(
        b'\xef\xbb\xbfid;text\r\n1;"two\r\nlines; mail x.y@acme-corp.com"\r\n2;plain\r\n'
    )
    redact_file(source, tmp_path / "out.csv")
    raw = (tmp_path / "out.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid;text\r\n")
    rows = [(item.line, item.value) for item in iter_raw_records(tmp_path / "out.csv")]
    assert rows == [
        (2, {"id": "1", "text": "two\r\nlines; mail [EMAIL]"}),
        (4, {"id": "2", "text": "plain"}),
    ]


def test_tsv_and_json_copies(tmp_path: Path) -> None:
    tsv = tmp_path / "data.tsv"
    tsv.write_text("prompt\tresponse\nhi\tcall 020 7946 0958\n", encoding="utf-8")
    redact_file(tsv, tmp_path / "out.tsv")
    assert (tmp_path / "out.tsv").read_text() == "prompt\tresponse\nhi\tcall [PHONE]\n"
    document = tmp_path / "data.json"
    document.write_text(json.dumps({"data": [ALPACA, {"instruction": "x", "output": "y"}]}))
    redact_file(document, tmp_path / "out.json")
    records = [(item.line, item.value) for item in iter_raw_records(tmp_path / "out.json")]
    assert records[0] == (
        2,
        {"instruction": "Summarise the call.", "output": "Customer rang from [PHONE]."},
    )
    assert records[1][0] == 3


def test_plain_text_copy_keeps_paragraphs(tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_text(f"First paragraph, {EMAIL}.\nStill first.\n\n\nSecond.\n", encoding="utf-8")
    redact_file(source, tmp_path / "out.txt")
    expected = "First paragraph, [EMAIL].\nStill first.\n\nSecond.\n"
    assert (tmp_path / "out.txt").read_text() == expected


@pytest.mark.skipif(importlib.util.find_spec("openpyxl") is None, reason="needs openpyxl")
def test_excel_copy(tmp_path: Path) -> None:
    import openpyxl

    source = tmp_path / "data.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["prompt", "response"])
    sheet.append(["Who called?", f"{EMAIL} from {PHONE}"])
    workbook.save(source)
    summary = redact_file(source, tmp_path / "out.xlsx")
    assert summary.counts_by_type["EMAIL"] == 1
    rows = [item.value for item in iter_raw_records(tmp_path / "out.xlsx")]
    assert rows == [{"prompt": "Who called?", "response": "[EMAIL] from [PHONE]"}]


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None, reason="needs pyarrow")
def test_parquet_copy(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "data.parquet"
    pq.write_table(pa.Table.from_pylist([{"messages": CHAT["messages"]}] * 3), source)
    report = scan_file(source)
    assert [(f.line, f.field, f.unit) for f in report.findings][:1] == [
        (1, "messages[1].content", "row")
    ]
    redact_file(source, tmp_path / "out.parquet")
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert rows[2]["messages"][1]["content"] == "I am at [EMAIL], phone [PHONE]."


def test_writing_refuses_types_it_cannot_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop_app.data.pii import writers

    monkeypatch.setattr(writers, "_OPTIONAL_TYPES", {".xlsx": "no_such_module_here"})
    source = tmp_path / "data.xlsx"
    source.write_bytes(b"not really")
    with pytest.raises(DataError, match="needs no_such_module_here") as caught:
        redact_file(source, tmp_path / "out.xlsx")
    assert ".jsonl" in caught.value.hint
    assert not (tmp_path / "out.xlsx").exists()


def test_numbers_stored_as_numbers_are_scanned_too(
    write_jsonl: Callable[..., Path], tmp_path: Path
) -> None:
    source = write_jsonl([{"card": 4111111111111111, "count": 3, "flag": True}])
    assert [(f.field, f.type) for f in scan_file(source).findings] == [("card", "CREDIT_CARD")]
    redact_file(source, tmp_path / "out.jsonl")
    assert json.loads((tmp_path / "out.jsonl").read_text()) == {
        "card": "[CREDIT_CARD]",
        "count": 3,
        "flag": True,
    }


def test_redaction_streams_large_files(write_jsonl: Callable[..., Path], tmp_path: Path) -> None:
    """The pseudonym table grows with distinct values, not with records."""
    source = write_jsonl([{"text": f"mail {EMAIL} about order {n}"} for n in range(2000)])
    shared = Pseudonymizer("k")
    summary = redact_file(source, tmp_path / "out.jsonl", "pseudonyms", pseudonymizer=shared)
    assert summary.records_changed == 2000 and len(shared) == 1
    with open(tmp_path / "out.jsonl", newline="") as handle:
        assert sum(1 for _ in csv.reader(handle)) == 2000
