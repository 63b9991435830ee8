"""token_length_stats counts exactly what encode_record trains on, in batches."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from desktop_app.data.records import Message, TrainingRecord
from desktop_app.engine import token_stats
from desktop_app.engine.loading import load_tokenizer
from desktop_app.engine.sft_data import (
    EncodingReport,
    encode_record,
    encode_records,
)
from desktop_app.engine.token_stats import (
    HistogramBin,
    format_token_stats,
    length_histogram,
    token_length_stats,
)

UNLIMITED = 1_000_000


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    return load_tokenizer(tiny_model_dir)[0]


def chat(line: int, *turns: tuple[str, str]) -> TrainingRecord:
    return TrainingRecord("t.jsonl", line, messages=tuple(Message(r, c) for r, c in turns))


def sample_records() -> list[TrainingRecord]:
    """Short and long chats, multi-turn chats, plain text, one with a long prompt."""
    records = []
    for line in range(1, 31):
        question = "What is the capital of France? " * (1 + line % 4)
        answer = "The invoice is due within thirty days. " * (1 + (line * 7) % 9)
        turns = [("user", question), ("assistant", answer)]
        if line % 3 == 0:
            turns.insert(0, ("system", "Please summarise the report in three sentences."))
        if line % 5 == 0:
            turns += [("user", "And the bank transfer?"), ("assistant", "Completed on Monday.")]
        records.append(chat(line, *turns))
    records.append(TrainingRecord("t.txt", 31, text="The claim was approved after review. " * 3))
    records.append(
        chat(32, ("user", "A policy number identifies a contract. " * 12), ("assistant", "Yes."))
    )
    return records


def encoded_length(record: TrainingRecord, tokenizer, train_on_prompt: bool = False) -> int:
    example = encode_record(record, tokenizer, UNLIMITED, train_on_prompt, EncodingReport())
    assert example is not None
    return len(example.input_ids)


def test_each_length_is_the_encoded_length_before_cutting(tokenizer) -> None:
    for record in sample_records():
        stats = token_length_stats([record], tokenizer, max_length=16)
        expected = encoded_length(record, tokenizer)
        assert stats.min_tokens == stats.max_tokens == expected, record.line
        assert stats.count == 1


@pytest.mark.parametrize("train_on_prompt", [False, True])
@pytest.mark.parametrize("max_length", [40, 140, UNLIMITED])
def test_totals_and_cut_records_match_training(
    tokenizer, train_on_prompt: bool, max_length: int
) -> None:
    records = sample_records()
    _, report = encode_records(records, tokenizer, max_length, train_on_prompt)
    stats = token_length_stats(records, tokenizer, max_length, train_on_prompt=train_on_prompt)
    assert stats.count == len(records)
    assert stats.total_tokens == report.total_tokens
    assert stats.trainable_tokens == report.trainable_tokens
    assert list(stats.truncated_lines) == report.truncated_lines
    assert list(stats.no_answer_left_lines) == report.no_answer_left_lines
    assert stats.share_truncated == pytest.approx(len(report.truncated_lines) / len(records))
    assert stats.masking_fell_back is report.masking_fell_back is False
    if max_length == 140:
        assert 0 < stats.share_truncated < 1
        assert stats.no_answer_left_lines == (() if train_on_prompt else (32,))


def test_summary_figures_and_histogram(tokenizer) -> None:
    records = sample_records()
    lengths = [encoded_length(record, tokenizer) for record in records]
    stats = token_length_stats(records, tokenizer, max_length=100)
    assert stats.min_tokens == min(lengths)
    assert stats.max_tokens == max(lengths)
    assert stats.mean_tokens == pytest.approx(statistics.mean(lengths))
    assert stats.median_tokens == statistics.median(lengths)
    assert stats.p95_tokens == sorted(lengths)[31 - 1]  # nearest rank: ceil(0.95 * 32) = 31
    assert stats.share_truncated == sum(length > 100 for length in lengths) / len(lengths)
    assert sum(bucket.count for bucket in stats.histogram) == stats.count == len(records)
    assert stats.histogram == tuple(length_histogram(lengths))


def test_batches_do_not_change_the_result(tokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
    records = sample_records()
    whole = token_length_stats(records, tokenizer, max_length=40)
    monkeypatch.setattr(token_stats, "BATCH_SIZE", 3)
    assert token_length_stats(iter(records), tokenizer, max_length=40) == whole


def test_a_tokenizer_set_up_to_truncate_is_still_measured_in_full(
    tiny_model_dir: Path, tokenizer
) -> None:
    truncating = load_tokenizer(tiny_model_dir)[0]
    truncating.backend_tokenizer.enable_truncation(16)
    records = sample_records()
    stats = token_length_stats(records, truncating, max_length=100)
    assert stats == token_length_stats(records, tokenizer, max_length=100)
    assert stats.max_tokens == max(encoded_length(record, tokenizer) for record in records)


def test_start_token_is_counted_like_training(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)[0]
    tokenizer.add_bos_token = True
    tokenizer.chat_template = (
        "{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}"
    )
    records = sample_records()
    _, report = encode_records(records, tokenizer, 50, False)
    stats = token_length_stats(records, tokenizer, 50)
    assert (stats.total_tokens, stats.trainable_tokens) == (
        report.total_tokens,
        report.trainable_tokens,
    )
    assert stats.max_tokens == max(encoded_length(record, tokenizer) for record in records)


def test_template_that_cannot_be_split_learns_everything(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)[0]
    tokenizer.chat_template = (
        "{% for message in messages | reverse %}{{ message['role'] + ': ' + message['content'] }}"
        "{% endfor %}{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}"
    )
    records = sample_records()[:5]
    _, report = encode_records(records, tokenizer, 64, False)
    stats = token_length_stats(records, tokenizer, 64)
    assert stats.masking_fell_back is report.masking_fell_back is True
    assert stats.trainable_tokens == report.trainable_tokens
    assert "cannot be split" in format_token_stats(stats)


@pytest.mark.parametrize(
    ("lengths", "first", "width"),
    [
        ([5], HistogramBin(5, 6, 1), 1),
        ([0, 1000], HistogramBin(0, 100, 1), 100),
        ([130, 131, 250, 1873], HistogramBin(0, 200, 2), 200),
        ([900, 950, 999], HistogramBin(900, 910, 1), 10),
    ],
)
def test_histogram_bins_are_round_and_cover_every_length(
    lengths: list[int], first: HistogramBin, width: int
) -> None:
    bins = length_histogram(lengths)
    assert bins[0] == first
    assert len(bins) <= token_stats.HISTOGRAM_BINS + 1
    assert all(bucket.upper - bucket.lower == width for bucket in bins)
    assert all(a.upper == b.lower for a, b in zip(bins, bins[1:], strict=False))
    assert bins[0].lower <= min(lengths) and max(lengths) < bins[-1].upper
    assert sum(bucket.count for bucket in bins) == len(lengths)


def test_json_and_text_report(tokenizer) -> None:
    stats = token_length_stats(sample_records(), tokenizer, max_length=40)
    data = json.loads(json.dumps(stats.to_json()))
    assert data["count"] == 32
    assert data["truncated_lines"] == list(stats.truncated_lines)
    assert sum(bucket["count"] for bucket in data["histogram"]) == 32
    text = format_token_stats(stats)
    assert "Token lengths of 32 records (max_length 40)" in text
    assert f"{len(stats.truncated_lines)} records" in text
    assert "#" * 40 in text  # the fullest bin has the full bar
    assert "cut" in text.splitlines()[-1]


def test_no_records(tokenizer) -> None:
    stats = token_length_stats([], tokenizer, max_length=40)
    assert (stats.count, stats.total_tokens, stats.histogram) == (0, 0, ())
    assert format_token_stats(stats) == "No records to measure."
