"""The held-out records a finished run is evaluated on, and the loss on their answers.

The run's own validation records are found again exactly as training split them (the
same configuration, seed and pseudonym key, through
:func:`~desktop_app.engine.training_data.prepare_training_data`); a file the user
chooses is read the way training reads a validation file. The loss counts the same
tokens as training does (:func:`~desktop_app.engine.sft_data.encode_records`). torch
is imported when a loss is measured.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from desktop_app.core.config import RunConfig
from desktop_app.core.errors import UserInputError
from desktop_app.core.manifest import file_hashes
from desktop_app.core.run_folder import PSEUDONYM_SALT, RunFolder
from desktop_app.data.duplicates import content_key
from desktop_app.data.loading import usable_records
from desktop_app.data.pii import Pseudonymizer, redact_text
from desktop_app.data.records import Message, TrainingRecord
from desktop_app.data.sources import DataFile, load_mix
from desktop_app.engine.sft_data import IGNORE_INDEX, EncodedExample
from desktop_app.engine.training_data import prepare_training_data

#: ``validation``: the run's validation records; ``test``: its held-out test records
#: (when it kept no validation records); ``file``: a file the user chose.
HeldOutSource = Literal["validation", "test", "file"]
#: The most a loss may be before its perplexity is capped (as training caps it).
PERPLEXITY_CAP_LOSS = 50.0


@dataclass(frozen=True)
class HeldOutData:
    """Records the run did not train on, and where they came from.

    Args:
        records: The records, in file order.
        source: See :data:`HeldOutSource`.
        files: The files they were read from (absolute paths).
        left_out: Records of a chosen file that could not be used (errors).
        seen_in_training: Records of a chosen file that the run trained on; None when
            the training data could not be read again to check.
    """

    records: tuple[TrainingRecord, ...]
    source: HeldOutSource
    files: tuple[str, ...]
    left_out: int = 0
    seen_in_training: int | None = 0


def perplexity(loss: float) -> float:
    """exp(loss), capped as training caps it so a diverged model does not overflow."""
    return math.exp(min(loss, PERPLEXITY_CAP_LOSS))


def _check_data_unchanged(manifest: dict[str, Any], files: Sequence[Path]) -> None:
    recorded = manifest.get("data_files", {})
    current = file_hashes(files)
    for path in files:
        key = str(path.resolve())
        expected = recorded.get(key, {}).get("sha256")
        if expected is not None and expected != current[key]["sha256"]:
            raise UserInputError(
                f"{path} has changed since this run was trained, so its validation "
                "records can no longer be found again.",
                "Put the original file back, or evaluate on a file of your own with --data "
                "(in the app: 'Evaluate on another file').",
            )


def _run_held_out(folder: RunFolder, config: RunConfig) -> HeldOutData:
    """The run's validation records (or, without any, its test records), re-derived."""
    prepared = prepare_training_data(
        config.data, config.hyperparameters.seed, folder.read_secret(PSEUDONYM_SALT)
    )
    _check_data_unchanged(folder.read_manifest(), prepared.files)
    files = tuple(str(path.resolve()) for path in prepared.files)
    if prepared.validation:
        return HeldOutData(tuple(prepared.validation), "validation", files)
    if prepared.test:
        return HeldOutData(tuple(prepared.test), "test", files)
    raise UserInputError(
        "This run kept no records back from training (no validation or test records), "
        "so there is nothing it has not seen to evaluate it on.",
        "Choose a file of held-out examples: enclave evaluate RUN_DIR --data FILE "
        "(in the app: 'Evaluate on another file').",
    )


def _redacted(record: TrainingRecord, mode: str, pseudonymizer: Pseudonymizer) -> TrainingRecord:
    def clean(text: str) -> str:
        return redact_text(text, mode, pseudonymizer).text

    return dataclasses.replace(
        record,
        messages=tuple(Message(m.role, clean(m.content)) for m in record.messages),
        text=clean(record.text) if record.text is not None else None,
        rejected=clean(record.rejected) if record.rejected is not None else None,
    )


def _chosen_file(folder: RunFolder, config: RunConfig, path: str | Path) -> HeldOutData:
    """A user's file, read like a validation file and redacted as training redacted."""
    spec = config.data
    same_type = Path(path).suffix.lower() == Path(spec.train).suffix.lower()
    data_file = (
        DataFile(str(path), 1.0, spec.format, spec.column_map)
        if same_type and spec.format != "auto"
        else DataFile(str(path))
    )
    (loaded,) = load_mix([data_file], max_chars=spec.max_chars)
    records, errors = usable_records(loaded, exclude_errors=True)
    if spec.pii_redaction != "off":
        pseudonymizer = Pseudonymizer(folder.read_secret(PSEUDONYM_SALT))
        records = [_redacted(record, spec.pii_redaction, pseudonymizer) for record in records]
    resolved = (str(Path(path).resolve()),)
    return HeldOutData(
        tuple(records), "file", resolved, len(errors), _seen_in_training(folder, config, records)
    )


def _seen_in_training(
    folder: RunFolder, config: RunConfig, records: Sequence[TrainingRecord]
) -> int | None:
    """How many of ``records`` the run trained on (scores on them flatter the model)."""
    try:
        prepared = prepare_training_data(
            config.data, config.hyperparameters.seed, folder.read_secret(PSEUDONYM_SALT)
        )
    except UserInputError:
        return None  # the training data moved or changed; the caller says it was not checked
    trained = {content_key(record) for record in prepared.train}
    return sum(content_key(record) in trained for record in records)


def held_out_records(
    folder: RunFolder, config: RunConfig, data_file: str | Path | None = None
) -> HeldOutData:
    """The records to evaluate a finished run on.

    Args:
        folder: The run's folder.
        config: The configuration the run was trained with.
        data_file: A file of held-out examples; None for the run's validation records.

    Raises:
        UserInputError: the file cannot be read, the training data changed, or the run
            kept no records back (plain message).
    """
    if data_file is not None:
        return _chosen_file(folder, config, data_file)
    return _run_held_out(folder, config)


@dataclass(frozen=True)
class LossResult:
    """Mean cross-entropy over the answer tokens, as training counts its loss.

    Args:
        loss: Token-weighted mean; None when no token was scored.
        tokens: Answer tokens scored.
        examples: Examples scored.
    """

    loss: float | None
    tokens: int
    examples: int

    @property
    def perplexity(self) -> float | None:
        """exp(loss), capped (see :func:`perplexity`)."""
        return None if self.loss is None else perplexity(self.loss)


def answer_loss(
    model: Any,
    examples: Sequence[EncodedExample],
    pad_token_id: int,
    *,
    batch_size: int = 8,
    stop_event: threading.Event | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> LossResult | None:
    """Cross-entropy of ``model`` on the learned tokens of ``examples``.

    Each token whose label is not -100 counts once, whichever batch it falls in, so
    the result does not depend on the batch size.

    Args:
        model: A causal language model (a PEFT model with its adapter on or off).
        examples: From :func:`~desktop_app.engine.sft_data.encode_records`.
        pad_token_id: The tokenizer's padding token.
        batch_size: Examples per forward pass.
        stop_event: Checked before every batch; when set, None is returned.
        on_batch: Called with (examples done, examples in all) after every batch.

    Returns:
        The loss, or None when cancelled.
    """
    import torch
    import torch.nn.functional as functional

    from desktop_app.engine.sft_batches import PaddingCollator

    stop_event = stop_event or threading.Event()
    collate = PaddingCollator(pad_token_id)
    device = next(model.parameters()).device
    ordered = sorted(examples, key=lambda example: len(example.input_ids))  # less padding
    total = torch.zeros((), dtype=torch.float64, device=device)
    tokens = 0
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(ordered), batch_size):
            if stop_event.is_set():
                return None
            batch = collate(
                [
                    {"input_ids": example.input_ids, "labels": example.labels}
                    for example in ordered[start : start + batch_size]
                ]
            )
            logits = model(
                input_ids=batch["input_ids"].to(device),
                attention_mask=batch["attention_mask"].to(device),
            ).logits
            targets = batch["labels"][:, 1:].to(device)  # each token predicts the next
            total += functional.cross_entropy(
                logits[:, :-1].float().reshape(-1, logits.shape[-1]),
                targets.reshape(-1),
                ignore_index=IGNORE_INDEX,
                reduction="sum",
            )
            tokens += int((targets != IGNORE_INDEX).sum())
            if on_batch is not None:
                on_batch(min(start + batch_size, len(ordered)), len(ordered))
    loss = float(total) / tokens if tokens else None
    return LossResult(loss, tokens, len(ordered))
