"""The training data for one run: every file read and checked, personal data scanned
(and redacted if asked), split into training, validation and test parts, weighted for
the mix, and described for the manifest."""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop_app.core.config import DataSpec
from desktop_app.data.duplicates import content_key
from desktop_app.data.loading import usable_records
from desktop_app.data.pii import Pseudonymizer, redact_text, scan_text
from desktop_app.data.records import LoadedData, Message, TrainingRecord
from desktop_app.data.sources import DataFile, load_mix
from desktop_app.data.split import split_records_three


@dataclass
class PreparedData:
    """The records a run trains and validates on, and what the manifest records."""

    train: list[TrainingRecord]
    validation: list[TrainingRecord]
    test: list[TrainingRecord]
    files: list[Path]
    record: dict[str, Any] = field(default_factory=dict)
    #: Plain-language notes for the user about how the data is used.
    notes: list[str] = field(default_factory=list)


def training_files(spec: DataSpec) -> list[DataFile]:
    """The main training file and the mix's files, as the data layer describes them."""
    files = [DataFile(spec.train, spec.train_weight, spec.format, spec.column_map)]
    for entry in spec.mix:
        files.append(
            DataFile(
                entry["path"],
                float(entry.get("weight", 1.0)),
                entry.get("format", "auto"),
                entry.get("column_map", {}),
            )
        )
    return files


def _texts(record: TrainingRecord) -> list[str]:
    texts = [message.content for message in record.messages]
    if record.text is not None:
        texts.append(record.text)
    if record.rejected is not None:
        texts.append(record.rejected)
    return texts


def _redacted(record: TrainingRecord, mode: str, pseudonymizer: Pseudonymizer) -> TrainingRecord:
    def clean(text: str) -> str:
        return redact_text(text, mode, pseudonymizer).text

    return dataclasses.replace(
        record,
        messages=tuple(Message(m.role, clean(m.content)) for m in record.messages),
        text=clean(record.text) if record.text is not None else None,
        rejected=clean(record.rejected) if record.rejected is not None else None,
    )


def _scan_and_redact(
    records: list[TrainingRecord], mode: str, pseudonymizer: Pseudonymizer
) -> tuple[list[TrainingRecord], dict[str, Any]]:
    """Scan every text of every record; replace personal data when ``mode`` is not off."""
    counts: Counter[str] = Counter()
    flagged: list[dict[str, Any]] = []
    result = []
    for record in records:
        types = sorted({f.type for text in _texts(record) for f in scan_text(text)})
        if types:
            flagged.append({"file": _key(record.source), "line": record.line, "types": types})
            for text in _texts(record):
                counts.update(f.type for f in scan_text(text))
        result.append(_redacted(record, mode, pseudonymizer) if types and mode != "off" else record)
    summary = {
        "redaction": mode,
        "values_found": dict(sorted(counts.items())),
        "records_with_personal_data": len(flagged),
        "records": flagged,
    }
    return result, summary


def _key(path: str) -> str:
    return str(Path(path).resolve())


def _weighted(
    records: list[TrainingRecord], weights: dict[str, float], seed: int
) -> list[TrainingRecord]:
    """Each record repeated by its file's weight: whole copies, plus one more with the
    probability of the fractional part (seeded), keeping the original order."""
    rng = random.Random(seed)
    result = []
    for record in records:
        weight = weights.get(_key(record.source), 1.0)
        copies = math.floor(weight) + (1 if rng.random() < weight - math.floor(weight) else 0)
        result.extend([record] * copies)
    return result


def _file_record(
    loaded: LoadedData, role: str, weight: float | None, excluded: list[Any]
) -> dict[str, Any]:
    return {
        "path": str(Path(loaded.path).resolve()),
        "role": role,
        "weight": weight,
        "format": loaded.format,
        "format_confidence": round(loaded.format_confidence, 3),
        "column_map": loaded.column_map,
        "records_read": loaded.total_lines,
        "records_used": len(loaded.records),
        "warnings": len(loaded.warnings),
        "excluded": [
            {"line": p.line, "unit": p.unit, "field": p.field, "reason": p.reason} for p in excluded
        ],
    }


def _validation_file(spec: DataSpec) -> DataFile | None:
    """The validation file reads with the training file's format and column map when it
    is of the same file type; otherwise both are detected from the file itself."""
    if not spec.validation_file:
        return None
    same_type = Path(spec.validation_file).suffix.lower() == Path(spec.train).suffix.lower()
    if same_type:
        return DataFile(spec.validation_file, 1.0, spec.format, spec.column_map)
    return DataFile(spec.validation_file)


def _drop_new_duplicates(
    training: list[TrainingRecord], validation: list[TrainingRecord]
) -> tuple[list[TrainingRecord], list[TrainingRecord], list[dict[str, Any]]]:
    """Records that became identical to an earlier one when personal data was replaced
    are used once; a validation record identical to a training one is dropped (it would
    make validation look better than it is)."""
    seen: dict[str, TrainingRecord] = {}
    dropped: list[dict[str, Any]] = []
    kept: tuple[list[TrainingRecord], list[TrainingRecord]] = ([], [])
    for part, records in enumerate((training, validation)):
        for record in records:
            key = content_key(record)
            earlier = seen.get(key)
            if earlier is None:
                seen[key] = record
                kept[part].append(record)
            else:
                dropped.append(
                    {
                        "file": _key(record.source),
                        "line": record.line,
                        "same_as": {"file": _key(earlier.source), "line": earlier.line},
                    }
                )
    return kept[0], kept[1], dropped


def prepare_training_data(
    spec: DataSpec, seed: int, pseudonym_salt: str | None = None
) -> PreparedData:
    """Read, check, scan, split and weight the data a run trains on.

    Args:
        spec: The data section of the run configuration.
        seed: The run's seed (split and weighting).
        pseudonym_salt: Key for consistent pseudonyms, kept with the run so a resumed
            run sees the same stand-ins.

    Raises:
        DataError: a file cannot be read, or holds errors and ``spec.exclude_invalid``
            is off (the message lists them and says how to go on).
    """
    files = training_files(spec)
    validation_file = _validation_file(spec)
    # The validation file comes last, so a validation record that repeats a training
    # record is reported as a duplicate there (it would make validation look too good).
    loaded = load_mix(
        files + ([validation_file] if validation_file else []), max_chars=spec.max_chars
    )
    training: list[TrainingRecord] = []
    file_records = []
    validation: list[TrainingRecord] = []
    for index, data in enumerate(loaded):
        records, excluded = usable_records(data, spec.exclude_invalid)
        is_validation = validation_file is not None and index == len(loaded) - 1
        weight = None if is_validation else files[index].weight
        file_records.append(
            _file_record(data, "validation" if is_validation else "train", weight, excluded)
        )
        (validation if is_validation else training).extend(records)

    pseudonymizer = Pseudonymizer(pseudonym_salt)
    training, pii_train = _scan_and_redact(training, spec.pii_redaction, pseudonymizer)
    validation, pii_validation = _scan_and_redact(validation, spec.pii_redaction, pseudonymizer)
    redaction_duplicates: list[dict[str, Any]] = []
    if spec.pii_redaction != "off":
        training, validation, redaction_duplicates = _drop_new_duplicates(training, validation)
    split = split_records_three(
        training,
        0.0 if validation_file else spec.validation_fraction,
        spec.test_fraction,
        seed,
    )
    held_out_validation = validation if validation_file else split.validation
    train = split.train
    if any(f.weight != 1.0 for f in files):
        train = _weighted(train, {_key(f.path): f.weight for f in files}, seed)
    record = {
        "files": file_records,
        "exclude_invalid": spec.exclude_invalid,
        "excluded_records": sum(len(f["excluded"]) for f in file_records),
        "personal_data": {
            **pii_train,
            "values_found": dict(
                Counter(pii_train["values_found"]) + Counter(pii_validation["values_found"])
            ),
            "records_with_personal_data": pii_train["records_with_personal_data"]
            + pii_validation["records_with_personal_data"],
            "records": pii_train["records"] + pii_validation["records"],
            "identical_after_redaction": redaction_duplicates,
        },
        "split": {
            "seed": seed,
            "train_records": len(split.train),
            "train_examples_after_weights": len(train),
            "validation_records": len(held_out_validation),
            "test_records": len(split.test),
            "test": [{"file": _key(r.source), "line": r.line} for r in split.test],
        },
    }
    notes = []
    if redaction_duplicates:
        lines = ", ".join(str(item["line"]) for item in redaction_duplicates[:10])
        notes.append(
            f"{len(redaction_duplicates)} records became identical to an earlier record once "
            f"personal data was replaced (lines {lines}); each is used once."
        )
    if any(data.format == "preference" for data in loaded):
        notes.append(
            "Preference pairs are trained on their chosen answers only; the rejected answers "
            "are not used by this method."
        )
    return PreparedData(
        notes=notes,
        train=train,
        validation=held_out_validation,
        test=split.test,
        files=[Path(f.path) for f in files]
        + ([Path(validation_file.path)] if validation_file else []),
        record=record,
    )


def personal_data_warning(record: dict[str, Any]) -> str | None:
    """A plain sentence about the personal data found in the run's data, or None.

    Args:
        record: ``PreparedData.record`` (the manifest's data section).
    """
    found = record["personal_data"]
    if not found["records_with_personal_data"]:
        return None
    values = ", ".join(f"{count} {kind}" for kind, count in found["values_found"].items())
    what = {
        "off": "The run trains on it as it is (data.pii_redaction is off).",
        "tags": "It is replaced with type tags such as [EMAIL] for training.",
        "pseudonyms": "It is replaced with consistent made-up values for training.",
    }[found["redaction"]]
    return (
        f"Personal data found in {found['records_with_personal_data']} records ({values}). "
        f"{what} The records are listed in the run's manifest."
    )
