"""Building blocks of the sign-off report's HTML: escaping, figures, tables and the
style sheet, in the subset of HTML and CSS that Qt's rich text understands (so the same
page prints to PDF); and the plain words that explain methods, settings and measures
to a reader who is not a specialist. No Qt here."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: Excluded rows (and other per-record lists) shown before "and N more".
MAX_LISTED = 20


STYLE = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; font-size: 10pt; color: #222; }
h1 { font-size: 18pt; color: #1f3a5f; margin-bottom: 2px; }
h2 { font-size: 13pt; color: #1f3a5f; margin-top: 18px; margin-bottom: 4px; }
h3 { font-size: 11pt; color: #333; margin-top: 10px; margin-bottom: 2px; }
p { margin-top: 3px; margin-bottom: 5px; }
table { border-collapse: collapse; margin-top: 4px; margin-bottom: 8px; }
th { background-color: #e8eef5; text-align: left; padding: 3px 6px; }
td { padding: 3px 6px; vertical-align: top; }
.explain { color: #555; }
.missing { color: #8a5300; font-style: italic; }
.hash { font-family: 'DejaVu Sans Mono', monospace; font-size: 8pt; }
.good { color: #1b7a1b; font-weight: bold; }
.bad { color: #b22222; font-weight: bold; }
"""


def escape(value: Any) -> str:
    """Any value as HTML-safe text."""
    return html.escape(str(value), quote=True)


def format_number(value: Any, digits: int = 4) -> str:
    """How the report writes a figure: whole numbers as they are, others with ``digits``
    decimals; a missing or non-finite value as a dash."""
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else "—"
    return str(value)


def table(header: Iterable[str] | None, rows: Iterable[Iterable[str]]) -> str:
    """A table; header cells are escaped here, row cells must already be HTML."""
    head = ""
    if header is not None:
        head = "<tr>" + "".join(f"<th>{escape(cell)}</th>" for cell in header) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table border="1" cellspacing="0" cellpadding="4" width="100%">{head}{body}</table>'


def facts(rows: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of labelled facts (values escaped here)."""
    return table(None, ((f"<b>{escape(label)}</b>", escape(value)) for label, value in rows))


def missing(text: str) -> str:
    return f'<p class="missing">{escape(text)}</p>'


def explain(text: str) -> str:
    return f'<p class="explain">{escape(text)}</p>'


def multiline(text: Any) -> str:
    return escape("" if text is None else text).replace("\n", "<br/>")


def finite_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def run_name(metrics_rows: list[dict[str, Any]]) -> str:
    for row in metrics_rows:
        if row.get("event") in ("RunStarted", "RunFinished") and row.get("run_dir"):
            return Path(str(row["run_dir"])).name
    return "unnamed run"


METHODS = {
    "lora": (
        "The original model was left unchanged. A small set of extra adjustment weights "
        "was trained and is applied on top of it, like notes clipped into a textbook "
        "instead of rewriting the book. The technical name for this is LoRA "
        "(low-rank adaptation)."
    ),
    "qlora": (
        "The original model was left unchanged. A small set of extra adjustment weights "
        "was trained and is applied on top of it, like notes clipped into a textbook "
        "instead of rewriting the book. To fit into the computer's memory, the original "
        "model was held in a compressed form while training. The technical name for "
        "this is QLoRA (quantised low-rank adaptation)."
    ),
    "full": (
        "Every weight of the model was retrained on the data: the result is a complete "
        "new copy of the model (full fine-tuning)."
    ),
    "freeze": (
        "Only the last layers of the model were retrained; the rest was kept as it was "
        "(freeze fine-tuning)."
    ),
}

#: (key, label, plain explanation) of the settings shown, by config section.
SETTINGS: tuple[tuple[str, str, str, str], ...] = (
    (
        "hyperparameters",
        "epochs",
        "Passes over the data",
        "How many times training "
        "went through the whole training set (unless a step limit came first).",
    ),
    (
        "hyperparameters",
        "max_steps",
        "Step limit",
        "Training stopped after this many adjustments (0 or none: no limit).",
    ),
    (
        "hyperparameters",
        "learning_rate",
        "Learning rate",
        "How big each adjustment was. "
        "Too high and the model forgets what it knew; too low and it learns little.",
    ),
    (
        "hyperparameters",
        "batch_size",
        "Examples per batch",
        "How many examples the model looked at together before each adjustment.",
    ),
    (
        "hyperparameters",
        "gradient_accumulation_steps",
        "Batches per adjustment",
        "Batches combined into one adjustment, to act like a larger batch.",
    ),
    (
        "hyperparameters",
        "max_length",
        "Longest example",
        "In tokens (word pieces); longer examples were cut to this length.",
    ),
    (
        "hyperparameters",
        "warmup_ratio",
        "Warm-up",
        "Share of training during which the adjustments started small and grew.",
    ),
    (
        "hyperparameters",
        "lr_scheduler",
        "Learning-rate schedule",
        "How the size of the adjustments changed over the run.",
    ),
    (
        "hyperparameters",
        "weight_decay",
        "Weight decay",
        "A gentle pull that keeps the weights from growing large.",
    ),
    (
        "hyperparameters",
        "seed",
        "Random seed",
        "Fixes every random choice, so the run can be repeated and give the same model.",
    ),
    (
        "method",
        "lora_r",
        "Adjustment size (rank)",
        "How many numbers the extra adjustment weights hold per layer: larger can learn more.",
    ),
    (
        "method",
        "lora_alpha",
        "Adjustment strength (alpha)",
        "How strongly the adjustments count against the original weights.",
    ),
    (
        "method",
        "lora_dropout",
        "Adjustment dropout",
        "Share of the adjustments switched "
        "off at random while training, so the model does not rely on any one of them.",
    ),
    (
        "method",
        "freeze_trainable_layers",
        "Layers retrained",
        "How many of the last layers were retrained.",
    ),
)
LORA_ONLY = {"lora_r", "lora_alpha", "lora_dropout"}


#: key -> (label, True when higher is better, plain explanation)
METRICS: dict[str, tuple[str, bool, str]] = {
    "loss": ("Loss", False, "How surprised the model is by the right answer; lower is better."),
    "perplexity": (
        "Perplexity",
        False,
        "Roughly how many words the model hesitates "
        "between at each step of the right answer; lower is better.",
    ),
    "exact_match": (
        "Exact match",
        True,
        "Share of answers identical to the reference "
        "answer (ignoring case and punctuation), 0 to 1; higher is better.",
    ),
    "token_f1": (
        "Word overlap (F1)",
        True,
        "How many of the reference answer's words the "
        "answer has, and how few extra ones, 0 to 1; higher is better.",
    ),
    "rouge_l": (
        "ROUGE-L",
        True,
        "The longest run of words shared with the reference, in order, 0 to 1; higher is better.",
    ),
    "bleu": (
        "BLEU",
        True,
        "How many short phrases the answers share with the references, 0 to 100; higher is better.",
    ),
    "accuracy": (
        "Accuracy",
        True,
        "Share of examples given the right label, 0 to 1; higher is better.",
    ),
    "macro_precision": (
        "Precision (average over labels)",
        True,
        "When the model gives a label, how often it is right; higher is better.",
    ),
    "macro_recall": (
        "Recall (average over labels)",
        True,
        "Of the examples with a label, how many the model found; higher is better.",
    ),
    "macro_f1": (
        "F1 (average over labels)",
        True,
        "Precision and recall combined, every label counting equally; higher is better.",
    ),
}
