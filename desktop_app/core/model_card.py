"""MODEL_CARD.md: a run's or an export's record, written for a reader who was not there.

Built from the manifest alone (plus ``evaluation.json`` and the sign-off when there are
any), so the card never says more than the machine-readable record beside it. Pure
text: no torch, no Qt.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from desktop_app.core.hardware import format_size

#: The file name of the card in run folders and exports.
MODEL_CARD_NAME = "MODEL_CARD.md"

_METHODS = {
    "lora": (
        "LoRA",
        "The base model's own weights were left unchanged; a small set of extra weights "
        "(an *adapter*) was trained on top of them. The adapter only works together with "
        "this exact base model.",
    ),
    "qlora": (
        "QLoRA",
        "Like LoRA, a small adapter was trained on top of the base model, but the base "
        "model was held in compressed (quantised) form during training to save memory. "
        "The adapter only works together with this exact base model.",
    ),
    "full": ("full fine-tuning", "Every weight of the base model was trained."),
    "freeze": (
        "freeze (top layers only)",
        "Only the top layers of the base model were trained; the others were kept as they were.",
    ),
}
_REDACTION = {
    "off": "It was left in the training data as it was (personal-data redaction was off).",
    "tags": "Each value was replaced by a type tag such as [EMAIL] before training.",
    "pseudonyms": "Each value was replaced by a consistent made-up value before training.",
}
_EXPORT_KINDS = {
    "adapter": "the trained adapter (PEFT format, safetensors) with the tokenizer",
    "merged": "a complete model: the adapter merged into a full-precision copy of the base "
    "model (safetensors) with the tokenizer",
    "model": "the complete trained model (safetensors) with the tokenizer",
}


def _cell(value: Any) -> str:
    """A value safe inside a Markdown table cell (yes/no for true/false)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).replace("|", "\\|").replace("\n", " ").strip() or "-"


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines + [""]


def _number(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _percent(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value * 100:.1f}%"


def _two(value: Any) -> str:
    return _number(value, 2)


def _one(value: Any) -> str:
    return _number(value, 1)


#: Evaluation figures: (group in evaluation.json or "" for the side itself, key, label, shown as).
_SCORES: tuple[tuple[str, str, str, Callable[[Any], str]], ...] = (
    ("", "loss", "Loss (lower is better)", _number),
    ("", "perplexity", "Perplexity (lower is better)", _two),
    ("generation", "exact_match", "Exact match", _percent),
    ("generation", "token_f1", "Word overlap (token F1)", _percent),
    ("generation", "rouge_l", "ROUGE-L", _percent),
    ("generation", "bleu", "BLEU (0-100)", _one),
    ("classification", "accuracy", "Accuracy", _percent),
    ("classification", "macro_f1", "F1, average over classes", _percent),
)


def _size(size: Any) -> str:
    return format_size(size) if isinstance(size, int | float) else "-"


def _duration(started: Any, finished: Any) -> str | None:
    try:
        seconds = (
            datetime.fromisoformat(str(finished)) - datetime.fromisoformat(str(started))
        ).total_seconds()
    except ValueError:
        return None
    minutes, seconds = divmod(int(max(seconds, 0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _hash_rows(hashes: Any) -> list[tuple[str, str, str]]:
    """(file, size, sha256) rows of a {path: {"sha256", "bytes"}} record."""
    return [
        (f"`{path}`", _size(_dict(entry).get("bytes")), f"`{_dict(entry).get('sha256', '-')}`")
        for path, entry in sorted(_dict(hashes).items())
    ]


def _intro(manifest: dict[str, Any], export: dict[str, Any]) -> list[str]:
    method_name = _METHODS.get(str(manifest.get("method")), (manifest.get("method"),))[0]
    base = _dict(manifest.get("model")).get("path", "an unrecorded base model")
    status = manifest.get("status")
    lines = [
        "# Model card",
        "",
        f"This is a language model fine-tuned from **{base}** with {method_name}, using "
        f"Enclave {manifest.get('enclave_version', '')}, which works without any network "
        "connection. Everything below comes from `manifest.json`, the machine-readable "
        "record kept beside this card.",
        "",
    ]
    if export:
        lines += [
            f"This folder is an **export** made on {export.get('time', '-')} by "
            f"{export.get('user', '-')}: {_EXPORT_KINDS.get(export.get('kind', ''), '-')}. "
            f"It was exported from the run folder `{manifest.get('run', '-')}`.",
            "",
        ]
    if status != "finished":
        lines += [
            f"> **This run did not finish** (its state is '{status or 'unknown'}'), so it has "
            "no trained model to use. The card records what was attempted.",
            "",
        ]
    return lines


def _what(manifest: dict[str, Any], export: dict[str, Any]) -> list[str]:
    method = str(manifest.get("method", ""))
    model = _dict(manifest.get("model"))
    lines = ["## What this model is", ""]
    name, explanation = _METHODS.get(method, (method or "unknown", ""))
    lines += [f"- **Method:** {name}. {explanation}".rstrip()]
    lines += [f"- **Base model:** `{model.get('path', '-')}`"]
    if model.get("source") and model.get("source") != model.get("path"):
        lines += [f"- **Read from:** `{model['source']}`"]
    if model.get("source_sha256"):
        lines += [f"- **Model file sha256:** `{model['source_sha256']}`"]
    quantization = _dict(manifest.get("quantization"))
    if quantization:
        detail = ", ".join(
            f"{key.replace('_', ' ')} {value}" for key, value in quantization.items()
        )
        lines += [f"- **Quantisation while training:** {detail}"]
    lines += [""]
    weights = _hash_rows(model.get("weights"))
    if weights:
        lines += ["The base model's weight files, as they were when training started:", ""]
        lines += _table(("File", "Size", "sha256"), weights)
    if export.get("kind") == "adapter":
        lines += [
            "To use it, load the base model above and apply this folder as a PEFT adapter "
            "(`PeftModel.from_pretrained(base_model, this_folder)`).",
            "",
        ]
    elif export.get("kind") in ("merged", "model"):
        lines += [
            "To use it, load this folder on its own "
            "(`AutoModelForCausalLM.from_pretrained(this_folder)`); no base model is needed.",
            "",
        ]
    return lines


def _data(manifest: dict[str, Any]) -> list[str]:
    data = _dict(manifest.get("data"))
    hashes = _dict(manifest.get("data_files"))
    lines = ["## What it was trained on", ""]
    rows = []
    for entry in data.get("files") or []:
        entry = _dict(entry)
        digest = _dict(hashes.get(str(entry.get("path")))).get("sha256", "-")
        rows.append(
            (
                f"`{entry.get('path', '-')}`",
                entry.get("role", "-"),
                entry.get("format", "-"),
                _number(entry.get("records_read")),
                _number(entry.get("records_used")),
                f"`{digest}`",
            )
        )
    if not rows:
        rows = [
            (f"`{path}`", "-", "-", "-", "-", f"`{_dict(e).get('sha256', '-')}`")
            for path, e in hashes.items()
        ]
    if rows:
        header = ("File", "Role", "Format", "Records read", "Records used", "sha256")
        lines += _table(header, rows)
    else:
        lines += ["No data file was recorded (the run stopped before its data was read).", ""]
    split = _dict(data.get("split"))
    if split:
        lines += [
            f"{_number(split.get('train_records'))} records were trained on, "
            f"{_number(split.get('validation_records'))} kept back for validation and "
            f"{_number(split.get('test_records'))} for testing (split with seed "
            f"{split.get('seed', '-')}).",
        ]
    if data.get("excluded_records"):
        lines += [
            f"{data['excluded_records']} records were left out because they could not be "
            "used; each is listed, with the reason, in manifest.json.",
        ]
    personal = _dict(data.get("personal_data"))
    if personal:
        found = personal.get("records_with_personal_data") or 0
        lines += ["", "**Personal data.** "]
        if found:
            kinds = ", ".join(
                f"{count} {kind}" for kind, count in _dict(personal.get("values_found")).items()
            )
            lines[-1] += (
                f"{found} records held personal data ({kinds}). "
                f"{_REDACTION.get(str(personal.get('redaction')), '')} The records are listed "
                "by file and line in manifest.json; the values themselves are not recorded."
            )
        else:
            lines[-1] += "The data was scanned for personal data and none was found."
    return lines + [""]


def _how(manifest: dict[str, Any]) -> list[str]:
    config = _dict(manifest.get("config"))
    hyper = _dict(config.get("hyperparameters"))
    method = _dict(config.get("method"))
    rows: list[tuple[Any, ...]] = [
        ("Seed", manifest.get("seed", hyper.get("seed", "-"))),
        ("Epochs", hyper.get("epochs", "-")),
        ("Most steps", hyper.get("max_steps") or "no limit (epochs decide)"),
        ("Learning rate", hyper.get("learning_rate", "-")),
        ("Batch size", hyper.get("batch_size", "-")),
        ("Gradient accumulation steps", hyper.get("gradient_accumulation_steps", "-")),
        ("Longest example (tokens)", hyper.get("max_length", "-")),
        ("Learning-rate schedule", hyper.get("lr_scheduler", "-")),
        ("Warm-up share", hyper.get("warmup_ratio", "-")),
        ("Weight decay", hyper.get("weight_decay", "-")),
    ]
    if manifest.get("method") in ("lora", "qlora"):
        rows += [
            ("LoRA rank (r)", method.get("lora_r", "-")),
            ("LoRA alpha", method.get("lora_alpha", "-")),
            ("LoRA dropout", method.get("lora_dropout", "-")),
            ("Layers adapted", method.get("target_modules", "-")),
        ]
    if manifest.get("method") == "freeze":
        rows += [("Layers trained", method.get("freeze_trainable_layers", "-"))]
    rows += [
        ("Trained on", manifest.get("device", "-")),
        ("Number format", manifest.get("compute_dtype", "-")),
        ("Train on prompts too", _dict(config.get("data")).get("train_on_prompt", "-")),
    ]
    lines = ["## How it was trained", ""]
    lines += _table(("Setting", "Value"), rows)
    resumed = manifest.get("resumed_at") or []
    if resumed:
        lines += [f"The run was interrupted and resumed {len(resumed)} time(s).", ""]
    return lines + ["The complete configuration is under `config` in manifest.json.", ""]


def _who(manifest: dict[str, Any]) -> list[str]:
    hardware = _dict(manifest.get("hardware"))
    gpus = [
        f"{_dict(g).get('name', 'GPU')} ({_size(_dict(g).get('total_memory_bytes'))})"
        for g in hardware.get("gpus") or []
    ]
    machine = ", ".join(gpus) if gpus else "no GPU (CPU only)"
    duration = _duration(manifest.get("started_at"), manifest.get("finished_at"))
    lines = [
        "## Who, where and when",
        "",
        f"- **Trained by:** {manifest.get('user', '-')} on {manifest.get('host', '-')} "
        f"({manifest.get('os', '-')})",
        f"- **Started:** {manifest.get('started_at') or '-'}; **ended:** "
        f"{manifest.get('finished_at') or '-'}" + (f" ({duration})" if duration else ""),
        f"- **Hardware:** {machine}; {hardware.get('cpu_cores_logical', '-')} CPU threads, "
        f"{_size(hardware.get('ram_total_bytes'))} memory",
        "",
    ]
    versions = [
        (name, version or "not installed")
        for name, version in _dict(manifest.get("libraries")).items()
    ]
    if versions:
        lines += ["Software versions that decide the numbers:", ""]
        lines += _table(("Library", "Version"), versions)
    return lines


def _score(side: dict[str, Any], group: str, key: str) -> Any:
    return (_dict(side.get(group)) if group else side).get(key)


def _results(manifest: dict[str, Any], evaluation: dict[str, Any] | None) -> list[str]:
    metrics = _dict(manifest.get("final_metrics"))
    lines = ["## Results", ""]
    if metrics:
        rows: list[tuple[str, str]] = [("Training steps", _number(metrics.get("steps"), 0))]
        rows.append(("Final training loss", _number(metrics.get("train_loss"))))
        if "eval_loss" in metrics:
            rows.append(("Validation loss", _number(metrics.get("eval_loss"))))
            rows.append(("Validation perplexity", _number(metrics.get("eval_perplexity"), 2)))
        lines += _table(("At the end of training", "Value"), rows)
        if "eval_loss" not in metrics:
            lines += ["No validation records were kept back, so there is no validation loss.", ""]
        lines += ["Loss and perplexity: lower is better.", ""]
    else:
        lines += ["Training did not finish, so there are no final figures.", ""]
    if not evaluation:
        lines += ["The model has not been compared with its base model yet.", ""]
        return lines
    data = _dict(evaluation.get("data"))
    lines += [
        f"**Compared with the base model** on {evaluation.get('evaluated_at', '-')}: "
        f"{_number(data.get('records'))} held-out records ({data.get('source', '-')}), "
        f"{_number(data.get('answered'))} answered by both models.",
        "",
    ]
    base, tuned = _dict(evaluation.get("base")), _dict(evaluation.get("tuned"))
    comparison = [
        (label, show(_score(base, group, key)), show(_score(tuned, group, key)))
        for group, key, label, show in _SCORES
        if not group or group in tuned
    ]
    lines += _table(("Measure", "Base model", "Fine-tuned"), comparison)
    lines += [f"Note: {note}" for note in evaluation.get("notes") or []]
    return lines + [""]


def _sign_off(sign_off: dict[str, Any] | None) -> list[str]:
    lines = ["## Sign-off", ""]
    if not sign_off:
        return lines + [
            "**Not signed off.** Nobody has recorded a decision on whether this model may be used.",
            "",
        ]
    lines += [
        f"- **Decision:** {sign_off.get('decision', '-')}",
        f"- **Reviewer:** {sign_off.get('reviewer', '-')}",
        f"- **Date:** {sign_off.get('date', '-')}",
    ]
    notes = str(sign_off.get("notes") or "").strip()
    if notes:
        lines += ["- **Notes:**", ""] + [f"  > {line}" for line in notes.splitlines()]
    return lines + [""]


def _limitations(
    manifest: dict[str, Any], export: dict[str, Any], sign_off: dict[str, Any] | None
) -> list[str]:
    split = _dict(_dict(manifest.get("data")).get("split"))
    personal = _dict(_dict(manifest.get("data")).get("personal_data"))
    points = [
        "It is meant for the kind of task its training records show, phrased the way they "
        "are. On other tasks it is no better than the base model, and may be worse.",
        "Like any language model it can give wrong answers in a confident tone. Have a "
        "person check anything that matters before it is acted on.",
        "It keeps the base model's limitations, biases and licence terms; read the base "
        "model's own documentation before using it.",
    ]
    trained = split.get("train_records")
    if isinstance(trained, int) and trained < 1000:
        points.append(
            f"It learned from only {trained:,} records; expect it to handle questions unlike "
            "them poorly."
        )
    if not split.get("validation_records"):
        points.append(
            "No records were kept back for validation, so nothing here shows how it does on "
            "records it has not seen."
        )
    if personal.get("records_with_personal_data") and personal.get("redaction") == "off":
        points.append(
            "Its training data held personal data that was not removed, so it may repeat "
            "it. Share it only with people allowed to see that data."
        )
    if manifest.get("method") == "qlora" and export.get("merged"):
        points.append(
            "The adapter was trained against a compressed (4-bit) copy of the base model and "
            "merged here into the full-precision model, so its answers can differ slightly "
            "from those measured in Enclave."
        )
    decision = str((sign_off or {}).get("decision", ""))
    if not sign_off:
        points.append("Nobody has signed it off yet: do not rely on it for real work.")
    elif decision != "approved":
        points.append(
            f"Its reviewer's decision was '{decision}': do not use it until a later review "
            "approves it."
        )
    return ["## Intended use and limitations", ""] + [f"- {p}" for p in points] + [""]


def _verify(manifest: dict[str, Any], export: dict[str, Any], audit_head: str | None) -> list[str]:
    lines = ["## How to check these files", ""]
    if export:
        rows = [
            (f"`{name}`", _size(_dict(entry).get("bytes")), f"`{_dict(entry).get('sha256')}`")
            for name, entry in sorted(_dict(export.get("artifacts")).items())
        ]
        title = "The files of this export and their sha256 fingerprints:"
    else:
        rows = _hash_rows(manifest.get("outputs"))
        title = "The files training wrote and their sha256 fingerprints:"
    if rows:
        lines += [title, ""] + _table(("File", "Size", "sha256"), rows)
    lines += [
        "Compute a file's fingerprint with `sha256sum FILE` (Linux), `shasum -a 256 FILE` "
        "(macOS) or `certutil -hashfile FILE SHA256` (Windows); any difference from the "
        "table means the file is not the one recorded. The base model and data "
        "fingerprints above can be checked the same way.",
        "",
    ]
    head = audit_head or export.get("audit_head")
    if head:
        lines += [
            "Enclave's audit log records every run, evaluation, sign-off and export in a "
            "chain where each entry carries the fingerprint of the one before. When this "
            f"card was written its last entry was `{head}`. If the log still holds that "
            "entry and its chain verifies, nothing recorded up to then has been changed.",
            "",
        ]
    return lines


def model_card_markdown(
    manifest: dict[str, Any],
    evaluation: dict[str, Any] | None = None,
    sign_off: dict[str, Any] | None = None,
    *,
    audit_head: str | None = None,
) -> str:
    """MODEL_CARD.md for a run folder or an export, in plain words.

    Args:
        manifest: The run's manifest.json; an export's manifest also holds ``run`` (the
            run folder) and ``export`` (kind, merged, artifacts, audit head, time, user).
        evaluation: The run's evaluation.json, if it was compared with its base model;
            the manifest's ``evaluation`` summary when not given.
        sign_off: {"reviewer", "decision", "date", "notes"}; the manifest's
            ``sign_off`` when not given; None or empty: not signed off.
        audit_head: The audit log's last entry hash when the card is written (an
            export's manifest carries its own).

    Returns:
        The card's Markdown text.
    """
    export = _dict(manifest.get("export"))
    if evaluation is None:
        evaluation = _dict(manifest.get("evaluation")) or None
    if sign_off is None:
        sign_off = _dict(manifest.get("sign_off")) or None
    sections = [
        _intro(manifest, export),
        _what(manifest, export),
        _data(manifest),
        _how(manifest),
        _who(manifest),
        _results(manifest, evaluation),
        _sign_off(sign_off),
        _limitations(manifest, export, sign_off),
        _verify(manifest, export, audit_head),
    ]
    return "\n".join(line for section in sections for line in section).rstrip() + "\n"
