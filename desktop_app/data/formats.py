"""The record formats: which fields each expects, telling them apart, and turning one
raw record into a :class:`TrainingRecord`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from desktop_app.data.conversations import CHAT, SHAREGPT, conversation_messages
from desktop_app.data.errors import data_error
from desktop_app.data.fields import (
    RecordSite,
    describe_type,
    require_object,
    required_text,
    text_field,
)
from desktop_app.data.records import Message, TrainingRecord

#: How many records format detection looks at, from the start of the file.
DETECTION_SAMPLE_SIZE = 200
#: The least share of sampled records that must fit the detected format.
MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class FormatFields:
    """The top-level fields of a format.

    Args:
        required: Fields every record must have; detection looks for these.
        optional: Fields that are used when present.
    """

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    def describe(self) -> str:
        """The fields in words: ``"instruction, output (optional: input, system)"``."""
        optional = f" (optional: {', '.join(self.optional)})" if self.optional else ""
        return ", ".join(self.required) + optional

    @property
    def all(self) -> tuple[str, ...]:
        """Every field, required ones first."""
        return self.required + self.optional


#: Every format but "auto", in the order of config.DATA_FORMATS, which breaks ties.
FORMAT_FIELDS: dict[str, FormatFields] = {
    "alpaca": FormatFields(("instruction", "output"), ("input", "system")),
    "prompt_completion": FormatFields(("prompt", "completion")),
    "chat": FormatFields(("messages",)),
    "sharegpt": FormatFields(("conversations",)),
    "text": FormatFields(("text",)),
    "classification": FormatFields(("text", "label")),
    "preference": FormatFields(("prompt", "chosen", "rejected"), ("system",)),
}

#: The format choices a user has: ``"auto"`` then every format. Kept identical to
#: ``config.DATA_FORMATS``.
FORMAT_CHOICES: tuple[str, ...] = ("auto", *FORMAT_FIELDS)


def expected_fields_text() -> str:
    """Each format and the fields it expects, for messages."""
    return "; ".join(f"{name}: {fields.describe()}" for name, fields in FORMAT_FIELDS.items())


def _fits(sample: dict[str, object], fields: FormatFields) -> bool:
    return all(key in sample for key in fields.required)


def detect_format(samples: list[dict], *, path: str = "the data") -> tuple[str, float]:
    """Tell which format a file is in from its first records.

    The format whose required fields appear in the most samples wins; on a tie the one
    with more required fields, then the one listed first. Extra fields are allowed.

    Args:
        samples: Parsed records from the start of the file; only the first
            :data:`DETECTION_SAMPLE_SIZE` objects are looked at.
        path: The file, for the error message.

    Returns:
        The format name and the share of samples that have its required fields.

    Raises:
        DataError: there is nothing to look at, or no format fits at least half of the
            samples; the message names the fields found and those each format expects.
    """
    objects = [sample for sample in samples if isinstance(sample, dict)]
    objects = objects[:DETECTION_SAMPLE_SIZE]
    if not objects:
        raise data_error(
            path,
            "has no records with named fields, so its format cannot be told.",
            f"Each record must be an object with the fields of one format: "
            f"{expected_fields_text()}.",
        )
    counts = {
        name: sum(_fits(sample, fields) for sample in objects)
        for name, fields in FORMAT_FIELDS.items()
    }
    best = max(FORMAT_FIELDS, key=lambda name: (counts[name], len(FORMAT_FIELDS[name].required)))
    confidence = counts[best] / len(objects)
    if confidence >= MIN_CONFIDENCE:
        return best, confidence
    keys = Counter(key for sample in objects for key in sample)
    found = ", ".join(key for key, _ in keys.most_common(12))
    closest = (
        f" The closest is {best}, which fits {counts[best]} of the {len(objects)} records read."
        if counts[best]
        else ""
    )
    raise data_error(
        path,
        f"does not match any format Enclave knows: its records have the fields {found}.{closest}",
        f"Expected fields per format: {expected_fields_text()}. "
        "Rename the fields, or choose the format yourself.",
    )


def _alpaca(record: dict[str, object], site: RecordSite) -> TrainingRecord:
    instruction = required_text(record, "instruction", site)
    extra_input = text_field(record, "input", site, optional=True, allow_blank=True)
    output = required_text(record, "output", site)
    system = text_field(record, "system", site, optional=True, allow_blank=True)
    user = instruction
    if extra_input and extra_input.strip():
        user += "\n\n" + extra_input
    messages = [Message("system", system)] if system and system.strip() else []
    messages += [Message("user", user), Message("assistant", output)]
    return TrainingRecord(site.path, site.line, tuple(messages), unit=site.unit)


def _prompt_completion(record: dict[str, object], site: RecordSite) -> TrainingRecord:
    prompt = required_text(record, "prompt", site)
    completion = required_text(record, "completion", site)
    messages = (Message("user", prompt), Message("assistant", completion))
    return TrainingRecord(site.path, site.line, messages, unit=site.unit)


def _chat(record: dict[str, object], site: RecordSite) -> TrainingRecord:
    messages = conversation_messages(record, CHAT, site)
    return TrainingRecord(site.path, site.line, messages, unit=site.unit)


def _sharegpt(record: dict[str, object], site: RecordSite) -> TrainingRecord:
    messages = conversation_messages(record, SHAREGPT, site)
    return TrainingRecord(site.path, site.line, messages, unit=site.unit)


def _text(record: dict[str, object], site: RecordSite) -> TrainingRecord:
    text = required_text(record, "text", site)
    return TrainingRecord(site.path, site.line, text=text, unit=site.unit)


def _label(record: dict[str, object], site: RecordSite) -> str:
    """The class: text, or a whole number (``1`` in JSON, as often written, means ``"1"``)."""
    value = record.get("label")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and not value.strip():
        raise site.problem("label", "is empty", "empty_field")
    if value is not None and not isinstance(value, str):
        raise site.problem(
            "label", f"must be text or a whole number, got {describe_type(value)}", "wrong_type"
        )
    return required_text(record, "label", site).strip()


def _classification(record: dict[str, object], site: RecordSite) -> TrainingRecord:
    text = required_text(record, "text", site)
    label = _label(record, site)
    messages = (Message("user", text), Message("assistant", label))
    return TrainingRecord(site.path, site.line, messages, unit=site.unit, label=label)


def _preference(record: dict[str, object], site: RecordSite) -> TrainingRecord:
    prompt = required_text(record, "prompt", site)
    chosen = required_text(record, "chosen", site)
    rejected = required_text(record, "rejected", site)
    system = text_field(record, "system", site, optional=True, allow_blank=True)
    if chosen.strip() == rejected.strip():
        raise site.problem(
            "rejected",
            "is the same as 'chosen'; a preference pair needs two different answers",
            "same_answers",
        )
    messages = [Message("system", system)] if system and system.strip() else []
    messages += [Message("user", prompt), Message("assistant", chosen)]
    return TrainingRecord(site.path, site.line, tuple(messages), unit=site.unit, rejected=rejected)


_CONVERTERS: dict[str, Callable[[dict[str, object], RecordSite], TrainingRecord]] = {
    "alpaca": _alpaca,
    "prompt_completion": _prompt_completion,
    "chat": _chat,
    "sharegpt": _sharegpt,
    "text": _text,
    "classification": _classification,
    "preference": _preference,
}


def to_record(
    raw: object,
    fmt: str,
    path: str,
    line: int,
    *,
    unit: str = "line",
    max_chars: int | None = None,
) -> TrainingRecord:
    """Turn one raw record into a training record, checking every field it uses.

    Args:
        raw: The parsed record, normally a dict.
        fmt: A format name from :data:`FORMAT_FIELDS` (not ``"auto"``).
        path: The file, recorded in the result and in problems.
        line: 1-based line (or record number) of the record.
        unit: What ``line`` counts: ``"line"``, ``"record"``, ``"row"`` or ``"sheet row"``.
        max_chars: Most characters allowed in one record, all its fields together; a
            field over it alone is named. None for no limit.

    Raises:
        RecordProblemError: the record cannot be used; carries the first problem found.
        ValueError: ``fmt`` is not a format name.
    """
    converter = _CONVERTERS.get(fmt)
    if converter is None:
        raise ValueError(f"unknown data format {fmt!r}; expected one of {', '.join(_CONVERTERS)}")
    site = RecordSite(path, line, unit, max_chars)
    record = converter(require_object(raw, site), site)
    if max_chars is not None and record.char_count > max_chars:
        raise site.too_long(None, record.char_count)
    return record
