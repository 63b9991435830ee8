"""Turning training records into token ids and labels for supervised fine-tuning.

Chat-like records are rendered with the model's own chat template. By default only the
assistant's answers count towards the loss: every other token gets the label -100.
Plain Python, no torch: the torch dataset and batches are in
:mod:`desktop_app.engine.sft_batches`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from desktop_app.data.records import TrainingRecord

IGNORE_INDEX = -100

#: Used when a model has no chat template of its own (plain base models). It is saved
#: with the adapter, so the tuned model is prompted the way it was trained.
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] + '\n\n' }}"
    "{% elif message['role'] == 'user' %}{{ '### Question:\n' + message['content'] + '\n\n' }}"
    "{% else %}{{ '### Answer:\n' + message['content'] + eos_token + '\n\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '### Answer:\n' }}{% endif %}"
)


@dataclass(frozen=True)
class EncodedExample:
    """One training example as token ids, with -100 on tokens that are not learned."""

    input_ids: list[int]
    labels: list[int]
    line: int


@dataclass
class EncodingReport:
    """What happened while encoding, for warnings the user sees."""

    truncated_lines: list[int] = field(default_factory=list)
    no_answer_left_lines: list[int] = field(default_factory=list)
    masking_fell_back: bool = False
    total_tokens: int = 0
    trainable_tokens: int = 0


def listed_lines(lines: list[int], shown: int = 10) -> str:
    """'3, 8, 12 and 40 more': line numbers for a message, without flooding it."""
    text = ", ".join(str(line) for line in lines[:shown])
    more = len(lines) - shown
    return text + (f" and {more} more" if more > 0 else "")


def encoding_warnings(report: EncodingReport, max_length: int, part: str = "training") -> list[str]:
    """Plain-language warnings about what encoding did to the records.

    Args:
        report: From :func:`encode_records`.
        max_length: The run's max_length in tokens.
        part: ``"training"`` or ``"validation"``, for the wording.
    """
    warnings = []
    used = "trained on" if part == "training" else "used for validation"
    if report.truncated_lines:
        warnings.append(
            f"{len(report.truncated_lines)} {part} records are longer than max_length "
            f"({max_length} tokens) and were cut: lines {listed_lines(report.truncated_lines)}."
        )
    if report.no_answer_left_lines:
        warnings.append(
            f"{len(report.no_answer_left_lines)} {part} records have no answer left after "
            f"cutting to max_length and are not {used}: lines "
            f"{listed_lines(report.no_answer_left_lines)}. Raise max_length to use them."
        )
    if report.masking_fell_back:
        warnings.append(
            "This model's chat template cannot be split into prompt and answer, so the "
            "whole conversation is trained on."
        )
    return warnings


def _render(tokenizer: Any, messages: Sequence[dict[str, str]], generation: bool = False) -> str:
    return tokenizer.apply_chat_template(
        list(messages), tokenize=False, add_generation_prompt=generation
    )


class RenderedRecord(NamedTuple):
    """A record as the training text, before tokenising.

    Args:
        text: The text the tokenizer sees, start token included where one is added.
        trained_spans: ``(start, end)`` character ranges whose tokens are learned.
        masking_fell_back: The template could not be split into prompt and answer, so
            the whole text is learned.
    """

    text: str
    trained_spans: list[tuple[int, int]]
    masking_fell_back: bool


def _answer_spans_from(
    tokenizer: Any, messages: list[dict[str, str]], full: str
) -> list[tuple[int, int]] | None:
    """Character spans of the assistant turns in the rendered conversation ``full``.

    Returns None when the template does not render a conversation as a sequence of
    prefixes (some templates rewrite earlier turns); masking is then not possible. The
    rendering up to the last message is ``full`` itself, so a one-question record needs
    two renderings instead of four (rendering is the slowest step in Python).
    """
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = _render(tokenizer, messages[:index], generation=True)
        last = index == len(messages) - 1
        with_answer = full if last else _render(tokenizer, messages[: index + 1])
        if not (with_answer.startswith(prompt) and full.startswith(with_answer)):
            return None
        spans.append((len(prompt), len(with_answer)))
    return spans


def render_record(record: TrainingRecord, tokenizer: Any, train_on_prompt: bool) -> RenderedRecord:
    """The text the tokenizer sees and the character spans whose tokens are learned.

    Shared by :func:`encode_record` (training) and the token statistics of the data
    check, so both count exactly the same tokens.
    """
    masking_fell_back = False
    if record.text is not None:
        text = record.text + (tokenizer.eos_token or "")
        spans = [(0, len(text))]
    else:
        messages = [{"role": m.role, "content": m.content} for m in record.messages]
        text = _render(tokenizer, messages)
        answer_spans = None if train_on_prompt else _answer_spans_from(tokenizer, messages, text)
        masking_fell_back = answer_spans is None and not train_on_prompt
        spans = answer_spans if answer_spans is not None else [(0, len(text))]
    bos = tokenizer.bos_token
    if getattr(tokenizer, "add_bos_token", False) and bos and not text.startswith(bos):
        # The template leaves the start token to the tokenizer, as inference will add it.
        text = bos + text
        spans = [(start + len(bos), end + len(bos)) for start, end in spans]
    return RenderedRecord(text, spans, masking_fell_back)


def encode_record(
    record: TrainingRecord,
    tokenizer: Any,
    max_length: int,
    train_on_prompt: bool,
    report: EncodingReport,
) -> EncodedExample | None:
    """Tokenise one record. Returns None (and notes the line) when truncation left no
    answer token to learn from."""
    rendered = render_record(record, tokenizer, train_on_prompt)
    if rendered.masking_fell_back:
        report.masking_fell_back = True
    text, spans = rendered.text, rendered.trained_spans
    encoded = tokenizer(
        text, add_special_tokens=False, return_offsets_mapping=True, truncation=False
    )
    input_ids: list[int] = encoded["input_ids"]
    labels = [
        token if any(start <= begin < end for start, end in spans) else IGNORE_INDEX
        for token, (begin, _) in zip(input_ids, encoded["offset_mapping"], strict=True)
    ]
    if len(input_ids) > max_length:
        report.truncated_lines.append(record.line)
        input_ids, labels = input_ids[:max_length], labels[:max_length]
    trainable = sum(label != IGNORE_INDEX for label in labels[1:])
    if trainable == 0:
        report.no_answer_left_lines.append(record.line)
        return None
    report.total_tokens += len(input_ids)
    report.trainable_tokens += trainable
    return EncodedExample(input_ids=input_ids, labels=labels, line=record.line)


def encode_records(
    records: Sequence[TrainingRecord], tokenizer: Any, max_length: int, train_on_prompt: bool
) -> tuple[list[EncodedExample], EncodingReport]:
    """Tokenise every record; see :func:`encode_record`.

    A record repeated in ``records`` (a file weighted above 1 in a mix) is tokenised and
    reported once; its copies share the same token lists.
    """
    report = EncodingReport()
    examples = []
    encoded: dict[int, EncodedExample | None] = {}
    for record in records:
        if id(record) not in encoded:
            encoded[id(record)] = encode_record(
                record, tokenizer, max_length, train_on_prompt, report
            )
        example = encoded[id(record)]
        if example is not None:
            examples.append(example)
    return examples, report
