"""The sign-off report's HTML: every section explains itself, missing evidence is said to
be missing, figures are formatted one way and every value from the run is escaped."""

from __future__ import annotations

import re
from typing import Any

import pytest

from desktop_app.core.report_html import build_report_html
from desktop_app.core.report_markup import format_number

DATA_HASH = "ab" * 32
WEIGHTS_HASH = "cd" * 32


def _manifest() -> dict[str, Any]:
    return {
        "status": "finished",
        "method": "qlora",
        "started_at": "2026-01-02T10:00:00+00:00",
        "finished_at": "2026-01-02T11:00:00+00:00",
        "user": "analyst",
        "host": "ws-1",
        "model": {
            "path": "/models/base",
            "weights": {"/models/base/w.safetensors": {"sha256": WEIGHTS_HASH, "bytes": 10}},
        },
        "data_files": {"/data/train.jsonl": {"sha256": DATA_HASH, "bytes": 100}},
        "config": {
            "hyperparameters": {"learning_rate": 0.0002, "batch_size": 4, "seed": 7},
            "method": {"lora_r": 16, "freeze_trainable_layers": 2},
        },
        "data": {
            "files": [
                {
                    "path": "/data/train.jsonl",
                    "role": "train",
                    "format": "alpaca",
                    "records_read": 12,
                    "records_used": 11,
                    "excluded": [{"line": 5, "reason": "empty <answer>"}],
                }
            ],
            "personal_data": {
                "redaction": "tags",
                "values_found": {"EMAIL": 3},
                "records_with_personal_data": 2,
                "identical_after_redaction": [],
            },
            "split": {"seed": 7, "train_records": 9, "validation_records": 1, "test_records": 1},
        },
    }


ROWS = [
    {
        "event": "RunStarted",
        "run_dir": "/runs/claims-v1",
        "trainable_parameters": 50,
        "total_parameters": 1000,
    },
    {"event": "StepMetrics", "step": 1, "loss": 4.0},
    {"event": "StepMetrics", "step": 2, "loss": 2.5},
    {"event": "EvalMetrics", "step": 2, "eval_loss": 2.75, "perplexity": 15.6},
]


def _text(html: str) -> str:
    """The HTML's visible text, tags removed and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_missing_evidence_is_stated_not_omitted() -> None:
    html = build_report_html(_manifest(), ROWS, None, None, None, None, {})
    text = _text(html)
    assert "No evaluation has been run yet" in text
    assert "No blind review has been done" in text
    assert "The memorisation probe has not been run" in text
    assert "Not signed off yet" in text
    assert "No sample answers were recorded" in text


def test_method_is_explained_without_jargon_and_settings_have_meanings() -> None:
    text = _text(build_report_html(_manifest(), ROWS, None, None, None, None, {}))
    assert "The original model was left unchanged" in text
    assert "compressed form" in text  # qlora
    assert "How big each adjustment was" in text
    assert "Adjustment size (rank) 16" in text
    assert "Layers retrained" not in text  # a freeze setting, not used by qlora
    assert "50 of the model's 1,000 weights (5.00%) were trained" in text
    assert "Loss measures how surprised the model is by the right answer; lower is better" in text


def test_data_summary_records_counts_exclusions_pii_and_hashes() -> None:
    html = build_report_html(_manifest(), ROWS, None, None, None, None, {})
    text = _text(html)
    assert "train.jsonl train alpaca 12 11 1" in text
    assert DATA_HASH[:16] in text
    assert f"sha256 {DATA_HASH}" in text
    assert f"sha256 {WEIGHTS_HASH}" in text
    assert "empty &lt;answer&gt;" in html
    assert "EMAIL: 3" in text
    assert "replaced by a label of its kind" in text
    assert "Training records 9" in text


def test_base_versus_tuned_table_attributes_better_and_worse() -> None:
    evaluation = {
        "base": {"loss": 2.0, "perplexity": 7.389, "generation": {"bleu": 30.0, "count": 4}},
        "tuned": {"loss": 1.25, "perplexity": 3.49, "generation": {"bleu": 20.0, "count": 4}},
        "examples": [],
    }
    text = _text(build_report_html(_manifest(), ROWS, evaluation, None, None, None, {}))
    assert "Loss 2.0000 1.2500 -0.7500 better" in text
    assert "BLEU 30.0000 20.0000 -10.0000 worse" in text
    assert text.count("Perplexity 7.3890") == 1
    assert "count" not in text.lower().split("original model versus")[1].split("sample")[0]
    assert "the fine-tuned model's loss is 1.2500 against 2.0000 for the original model" in text


def test_every_value_from_the_run_is_escaped() -> None:
    attack = "<script>alert('x')</script>"
    evaluation = {
        "base": {"loss": 1.0},
        "tuned": {"loss": 0.5},
        "examples": [{"prompt": attack, "reference": "a & b", "base": attack, "tuned": "ok"}],
    }
    review = {"tuned_wins": 1, "ties": 0, "base_wins": 0, "comments": [attack]}
    sign_off = {"reviewer": attack, "decision": "approved", "date": "2026-01-03", "notes": attack}
    html = build_report_html(_manifest(), ROWS, evaluation, review, None, sign_off, {})
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "a &amp; b" in html


def test_review_probe_sign_off_and_images_are_reported() -> None:
    review = {"tuned_wins": 6, "ties": 3, "base_wins": 1, "comments": [{"comment": "Shorter"}]}
    probe = {
        "records_probed": 12,
        "records_leaking": 0,
        "types": {},
        "verbatim": {"records_probed": 5, "records_repeated": 0},
    }
    sign_off = {"reviewer": "R. Okafor", "decision": "needs changes", "date": "2026-01-04"}
    html = build_report_html(
        _manifest(), ROWS, None, review, probe, sign_off, {"Loss": "report-loss.png"}
    )
    text = _text(html)
    assert "Fine-tuned model better 6 60%" in text
    assert "Original model better 1 10%" in text
    assert "Shorter" in text
    assert "Records probed 12" in text
    assert "No personal values came back" in text
    assert "Records repeated 0" in text
    assert "Reviewer R. Okafor" in text and "Decision needs changes" in text
    assert 'src="report-loss.png"' in html
    assert "Lowest validation loss 2.7500 (step 2)" in text


def test_a_leaking_probe_is_flagged() -> None:
    probe = {"records_probed": 4, "records_leaking": 3, "types": ["EMAIL", "PHONE"]}
    text = _text(build_report_html(_manifest(), ROWS, None, None, probe, None, {}))
    assert "3 of 4 records with personal data brought their personal values back" in text
    assert "EMAIL, PHONE" in text
    assert "The model repeated personal data it was trained on" in text
    assert "Word-for-word repetition was not checked" in text


def test_an_empty_manifest_still_gives_a_report() -> None:
    text = _text(build_report_html({}, [], None, None, None, None, {}))
    assert "no description of its data" in text
    assert "No training steps were recorded" in text
    assert "holds no fingerprints" in text


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.234567, "1.2346"), (12, "12"), (12345, "12,345"), (None, "—"), (float("nan"), "—")],
)
def test_format_number(value: object, expected: str) -> None:
    assert format_number(value) == expected


def test_the_probe_and_review_shapes_their_modules_write_are_reported() -> None:
    probe = {
        "records_probed": 5,
        "records_leaking": 1,
        "leaked_types": {"EMAIL": 1},
        "long_answers": 3,
        "answers_probed": 3,
        "answers_reproduced": 2,
        "longest_overlap_chars": 140,
        "verbatim": [{"file": "t.jsonl", "line": 2, "answer_chars": 200, "overlap_chars": 140}],
        "summary": "1 of 5 training records with personal data gave back a value.",
        "cancelled": True,
    }
    review = {
        "tuned_wins": 1,
        "ties": 1,
        "base_wins": 0,
        "reviewer": "Lee",
        "automatic_ties": 1,
        "comments": [{"item": 2, "prompt": "q", "winner": "tuned", "comment": "Crisper"}],
    }
    text = _text(build_report_html(_manifest(), ROWS, None, review, probe, None, {}))
    assert "EMAIL: 1" in text
    assert "Answers repeated word for word 2" in text
    assert "Longest run of characters repeated 140" in text
    assert "In plain words: 1 of 5 training records" in text
    assert "these counts are partial" in text
    assert "Word-for-word repetition was not checked" not in text
    assert "Reviewed by Lee" in text
    assert "Question 2, fine-tuned better: Crisper" in text
    assert "Pairs of identical answers, counted as ties without asking: 1" in text


def test_label_data_gets_per_class_figures_and_a_confusion_matrix() -> None:
    from desktop_app.engine.eval_metrics import classification_metrics

    predictions = ["billing", "claims", "claims", "billing", "fraud"]
    labels = ["billing", "claims", "billing", "billing", "claims"]
    tuned = classification_metrics(predictions, labels).to_json()
    evaluation = {"base": {"loss": 2.0}, "tuned": {"loss": 1.0, "classification": tuned}}
    text = _text(build_report_html(_manifest(), ROWS, evaluation, None, None, None, {}))
    assert "Fine-tuned model: each class" in text
    assert "Confusion matrix" in text
    # Rows are true classes: billing was given as billing twice and as claims once.
    assert re.search(r"billing\s+2\s+1\s+0", text), text
    assert re.search(r"claims\s+0\s+1\s+1", text), text
