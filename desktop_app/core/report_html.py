"""The sign-off report as HTML: everything a reviewer needs to approve a fine-tuned model.

:func:`build_report_html` turns the run's manifest, its event log and the evaluation
results into one self-explaining HTML page, written for a reader who has never heard
of LoRA. Every section says what its figures mean; a part that is missing (no
evaluation yet, no blind review, no probe) is said to be missing, never left out. All
text from the run is escaped. The HTML keeps to the subset Qt's rich text understands,
so the same page prints to PDF (see ``desktop_app.ui.report``). No Qt here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from desktop_app.core.report_evidence import (
    examples_section,
    hashes_section,
    metrics_section,
    probe_section,
    review_section,
    sign_off_section,
    summary,
)
from desktop_app.core.report_markup import (
    LORA_ONLY,
    MAX_LISTED,
    METHODS,
    SETTINGS,
    STYLE,
    escape,
    explain,
    facts,
    finite_number,
    format_number,
    missing,
    run_name,
    table,
)

_REDACTION = {
    "off": "Personal data was left in the training data as it was.",
    "tags": "Personal data was replaced by a label of its kind (such as [EMAIL]) before training.",
    "pseudonyms": "Personal data was replaced by consistent made-up stand-ins before training.",
}


def _run_started(metrics_rows: list[dict[str, Any]]) -> dict[str, Any]:
    started = [row for row in metrics_rows if row.get("event") == "RunStarted"]
    return started[-1] if started else {}


def _run_section(manifest: dict[str, Any], metrics_rows: list[dict[str, Any]]) -> str:
    model = manifest.get("model", {})
    libraries = manifest.get("libraries", {})
    rows = [
        ("Run", run_name(metrics_rows)),
        ("Status", manifest.get("status", "unknown")),
        ("Started", manifest.get("started_at") or "—"),
        ("Finished", manifest.get("finished_at") or "—"),
        ("Trained by", f"{manifest.get('user', '?')} on {manifest.get('host', '?')}"),
        ("Original model", model.get("path", "—")),
        ("Computer", f"{manifest.get('device', '?')}, {manifest.get('os', '?')}"),
        (
            "Software",
            f"Enclave {manifest.get('enclave_version', '?')}; "
            + ", ".join(f"{k} {v}" for k, v in libraries.items() if v),
        ),
    ]
    return (
        "<h2>1. The run</h2>"
        + explain("What was trained, when, by whom and on which computer.")
        + facts(rows)
    )


def _data_section(manifest: dict[str, Any]) -> str:
    data = manifest.get("data") or {}
    hashes = manifest.get("data_files", {})
    out = ["<h2>2. The data</h2>"]
    if not data:
        return out[0] + missing("The run's record holds no description of its data.")
    rows = []
    for file in data.get("files", []):
        digest = hashes.get(file.get("path"), {}).get("sha256", "")
        rows.append(
            [
                escape(Path(str(file.get("path", "?"))).name),
                escape(file.get("role", "")),
                escape(file.get("format", "")),
                format_number(file.get("records_read")),
                format_number(file.get("records_used")),
                format_number(len(file.get("excluded", []))),
                f'<span class="hash">{escape(digest[:16])}…</span>' if digest else "—",
            ]
        )
    out.append(
        explain(
            "The files the model learned from. The fingerprint (sha256) identifies each file's "
            "exact content; the full fingerprints are at the end of this report."
        )
    )
    out.append(
        table(
            ("File", "Used for", "Format", "Records read", "Used", "Excluded", "Fingerprint"), rows
        )
    )
    split = data.get("split") or {}
    out.append("<h3>How the records were divided</h3>")
    out.append(
        explain(
            "The records were divided at random. The model learned only from the training "
            "part; the validation part checked its progress while training, and the test part "
            "was kept back for the comparison below. Scores on records the model never saw "
            "show how it does on new questions."
        )
    )
    out.append(
        facts(
            [
                ("Training records", format_number(split.get("train_records"))),
                ("Validation records", format_number(split.get("validation_records"))),
                ("Test records (kept back)", format_number(split.get("test_records"))),
                ("Random seed of the division", split.get("seed", "—")),
            ]
        )
    )
    out.append(_excluded(data))
    out.append(_personal_data(data.get("personal_data") or {}))
    return "".join(out)


def _excluded(data: dict[str, Any]) -> str:
    listed = [
        (Path(str(f.get("path", "?"))).name, row)
        for f in data.get("files", [])
        for row in f.get("excluded", [])
    ]
    out = ["<h3>Records left out</h3>"]
    if not listed:
        return out[0] + "<p>No records were left out: every record read was usable.</p>"
    out.append(f"<p>{len(listed)} records could not be used and were left out:</p>")
    out.append(
        table(
            ("File", "Line", "Reason"),
            (
                (escape(name), escape(row.get("line", "?")), escape(row.get("reason", "")))
                for name, row in listed[:MAX_LISTED]
            ),
        )
    )
    if len(listed) > MAX_LISTED:
        out.append(f"<p>…and {len(listed) - MAX_LISTED} more (listed in manifest.json).</p>")
    return "".join(out)


def _personal_data(pii: dict[str, Any]) -> str:
    out = ["<h3>Personal data</h3>"]
    if not pii:
        return out[0] + missing("The run's record holds no personal data scan.")
    out.append(
        explain(
            "Every record was scanned for personal data (such as e-mail addresses and "
            "phone numbers) before training."
        )
    )
    found = pii.get("values_found") or {}
    mode = str(pii.get("redaction", "off"))
    out.append(
        facts(
            [
                (
                    "Records holding personal data",
                    format_number(pii.get("records_with_personal_data", 0)),
                ),
                ("Values found", ", ".join(f"{k}: {v}" for k, v in found.items()) or "none"),
                ("What was done", _REDACTION.get(mode, f"Redaction mode: {mode}")),
                (
                    "Records identical after redaction (used once)",
                    format_number(len(pii.get("identical_after_redaction") or [])),
                ),
            ]
        )
    )
    return "".join(out)


def _method_section(manifest: dict[str, Any], metrics_rows: list[dict[str, Any]]) -> str:
    method = str(manifest.get("method", "unknown"))
    config = manifest.get("config") or {}
    out = ["<h2>3. How the model was trained</h2>"]
    out.append(f"<p>{escape(METHODS.get(method, f'Method: {method}.'))}</p>")
    started = _run_started(metrics_rows)
    trainable, total = started.get("trainable_parameters"), started.get("total_parameters")
    if trainable and total:
        out.append(
            f"<p>{format_number(trainable)} of the model's {format_number(total)} weights "
            f"({100 * trainable / total:.2f}%) were trained.</p>"
        )
    rows = []
    for section, key, label, meaning in SETTINGS:
        if key in LORA_ONLY and method not in ("lora", "qlora"):
            continue
        if key == "freeze_trainable_layers" and method != "freeze":
            continue
        value = (config.get(section) or {}).get(key)
        if value is not None:
            rows.append(
                (escape(label), escape(value), f'<span class="explain">{escape(meaning)}</span>')
            )
    if rows:
        out.append("<h3>Settings</h3>")
        out.append(table(("Setting", "Value", "What it means"), rows))
    else:
        out.append(missing("The run's record holds no settings."))
    return "".join(out)


def _training_section(metrics_rows: list[dict[str, Any]], images: dict[str, str]) -> str:
    out = ["<h2>4. Training progress</h2>"]
    out.append(
        explain(
            "Loss measures how surprised the model is by the right answer; lower is better. "
            "Training loss is measured on the records the model learns from, validation loss "
            "on records it never learns from. If validation loss rises while training loss "
            "keeps falling, the model has started to learn its examples by heart instead of "
            "the pattern behind them."
        )
    )
    for name, source in images.items():
        out.append(f'<p><img src="{escape(source)}" width="620" alt="{escape(name)}"/></p>')
    steps = [row for row in metrics_rows if row.get("event") == "StepMetrics"]
    evals = [row for row in metrics_rows if row.get("event") == "EvalMetrics"]
    if not steps and not evals:
        return "".join(out) + missing("No training steps were recorded.")
    figures = []
    if steps:
        figures.append(("Training steps", format_number(steps[-1].get("step"))))
        figures.append(("Training loss at the first step", format_number(steps[0].get("loss"))))
        figures.append(("Training loss at the last step", format_number(steps[-1].get("loss"))))
    if evals:
        figures.append(("Validation loss at the end", format_number(evals[-1].get("eval_loss"))))
        best = min(evals, key=lambda row: finite_number(row.get("eval_loss")) or math.inf)
        figures.append(
            (
                "Lowest validation loss",
                f"{format_number(best.get('eval_loss'))} (step {best.get('step')})",
            )
        )
    out.append(facts(figures))
    return "".join(out)


def build_report_html(
    manifest: dict[str, Any],
    metrics_rows: list[dict[str, Any]],
    evaluation: dict[str, Any] | None,
    review: dict[str, Any] | None,
    probe: dict[str, Any] | None,
    sign_off: dict[str, Any] | None,
    images: dict[str, str],
) -> str:
    """The sign-off report as one HTML page.

    Args:
        manifest: The run's manifest.json.
        metrics_rows: The run's metrics.jsonl, one dict per event.
        evaluation: Base and tuned figures and sample answers ({"base": {...}, "tuned":
            {...}, "examples": [...]}), or None when not evaluated yet.
        review: The blind-review tally ({"tuned_wins", "ties", "base_wins",
            "comments"}), or None.
        probe: The memorisation probe ({"records_probed", "records_leaking", "types",
            "verbatim"}), or None.
        sign_off: {"reviewer", "decision", "date", "notes"}, or None.
        images: Chart title -> image address (a file name beside the HTML, or a
            resource name), shown in the training section in this order.

    Returns:
        A complete HTML document; every value from the inputs is escaped.
    """
    name = run_name(metrics_rows)
    body = [
        f"<h1>Sign-off report: {escape(name)}</h1>",
        explain(
            "This report collects the evidence for deciding whether a fine-tuned language "
            "model may be used: what it learned from, how it was trained, how it compares "
            "with the original model, and whether it repeats personal data it was trained on."
        ),
        summary(manifest, evaluation, review, probe, sign_off),
        _run_section(manifest, metrics_rows),
        _data_section(manifest),
        _method_section(manifest, metrics_rows),
        _training_section(metrics_rows, images),
        metrics_section(evaluation),
        examples_section(evaluation),
        review_section(review),
        probe_section(probe),
        sign_off_section(sign_off),
        hashes_section(manifest),
    ]
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"/>'
        f"<title>Sign-off report: {escape(name)}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
