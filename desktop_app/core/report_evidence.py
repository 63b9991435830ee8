"""The evidence sections of the sign-off report: the summary, base versus tuned figures,
sample answers, the blind review, the memorisation probe, the sign-off and the files'
fingerprints. Each says plainly when its evidence is missing. No Qt here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from desktop_app.core.report_markup import (
    MAX_LISTED,
    METRICS,
    escape,
    explain,
    facts,
    finite_number,
    format_number,
    missing,
    multiline,
    table,
)

#: Examples of base-versus-tuned answers shown in the report.
MAX_EXAMPLES = 8


def side_metrics(side: Any) -> dict[str, float]:
    """The figures of one model in the evaluation, nested groups flattened one level
    ({"generation": {"bleu": 3.1}} counts as {"bleu": 3.1})."""
    figures: dict[str, float] = {}
    if not isinstance(side, Mapping):
        return figures
    for key, value in side.items():
        if isinstance(value, Mapping):
            for inner_key, inner in value.items():
                if (number := finite_number(inner)) is not None and inner_key != "count":
                    figures.setdefault(str(inner_key), number)
        elif (number := finite_number(value)) is not None and key != "count":
            figures[str(key)] = number
    return figures


def summary(
    manifest: dict[str, Any],
    evaluation: dict[str, Any] | None,
    review: dict[str, Any] | None,
    probe: dict[str, Any] | None,
    sign_off: dict[str, Any] | None,
) -> str:
    items = []
    if sign_off:
        items.append(
            f"Decision: <b>{escape(sign_off.get('decision', 'not stated'))}</b> by "
            f"{escape(sign_off.get('reviewer', 'an unnamed reviewer'))} on "
            f"{escape(sign_off.get('date', 'an unstated date'))}."
        )
    else:
        items.append("No one has signed this model off yet.")
    base = side_metrics((evaluation or {}).get("base"))
    tuned = side_metrics((evaluation or {}).get("tuned"))
    if "loss" in base and "loss" in tuned:
        verdict = "lower, so better" if tuned["loss"] < base["loss"] else "not lower"
        items.append(
            f"On held-out records the fine-tuned model's loss is {format_number(tuned['loss'])}"
            f" against {format_number(base['loss'])} for the original model: {verdict}."
        )
    else:
        items.append("The original and fine-tuned models have not been compared yet.")
    if review:
        items.append(
            f"In a blind review the fine-tuned answer was preferred {review.get('tuned_wins', 0)}"
            f" times, the original {review.get('base_wins', 0)} times, with "
            f"{review.get('ties', 0)} ties."
        )
    else:
        items.append("No blind review has been done.")
    if probe:
        items.append(
            f"Memorisation probe: {probe.get('records_leaking', 0)} of "
            f"{probe.get('records_probed', 0)} records with personal data brought their "
            "personal values back."
        )
    else:
        items.append("The memorisation probe has not been run.")
    status = manifest.get("status", "unknown")
    items.append(f"Training ended with status: {escape(status)}.")
    return "<h2>In short</h2><ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def metrics_section(evaluation: dict[str, Any] | None) -> str:
    out = ["<h2>5. Original model versus fine-tuned model</h2>"]
    base = side_metrics((evaluation or {}).get("base"))
    tuned = side_metrics((evaluation or {}).get("tuned"))
    if not base and not tuned:
        return out[0] + missing(
            "No evaluation has been run yet, so there are no figures comparing the original "
            "model with the fine-tuned one. Run the Evaluate step, then write this report "
            "again."
        )
    out.append(
        explain(
            "Both models answered the same held-out records, which neither was trained on. "
            "The change column shows whether fine-tuning made each figure better or worse."
        )
    )
    rows = []
    for key in [*METRICS, *sorted((set(base) | set(tuned)) - set(METRICS))]:
        if key not in base and key not in tuned:
            continue
        label, higher_better, meaning = METRICS.get(key, (key.replace("_", " "), None, ""))
        change = "—"
        if key in base and key in tuned:
            delta = tuned[key] - base[key]
            change = f"{delta:+.4f}"
            if higher_better is not None and delta != 0:
                better = (delta > 0) == higher_better
                change += f' <span class="{"good" if better else "bad"}">'
                change += ("better" if better else "worse") + "</span>"
        rows.append(
            (
                f"<b>{escape(label)}</b>",
                format_number(base.get(key)),
                format_number(tuned.get(key)),
                change,
                f'<span class="explain">{escape(meaning)}</span>',
            )
        )
    out.append(table(("Measure", "Original", "Fine-tuned", "Change", "What it means"), rows))
    out.append(classification_detail(evaluation or {}))
    return "".join(out)


def classification_detail(evaluation: dict[str, Any]) -> str:
    """Per-class figures and the confusion matrix of each model, for label data."""
    parts: list[str] = []
    for side, name in (("base", "Original model"), ("tuned", "Fine-tuned model")):
        scores = (evaluation.get(side) or {}).get("classification")
        if not isinstance(scores, dict):
            continue
        per_class = [item for item in scores.get("per_class", []) if isinstance(item, dict)]
        matrix = scores.get("confusion_matrix") or {}
        parts.append(f"<h3>{escape(name)}: each class</h3>")
        parts.append(
            table(
                ("Class", "Precision", "Recall", "F1", "Examples"),
                [
                    (
                        escape(item.get("label", "")),
                        format_number(item.get("precision")),
                        format_number(item.get("recall")),
                        format_number(item.get("f1")),
                        escape(item.get("support", "")),
                    )
                    for item in per_class
                ],
            )
        )
        rows, columns = matrix.get("rows", []), matrix.get("columns", [])
        counts = matrix.get("counts", [])
        if rows and columns and len(counts) == len(rows):
            parts.append(
                explain(
                    "Confusion matrix: each row is the true class, each column the class "
                    "the model gave; the diagonal holds the right answers."
                )
            )
            parts.append(
                table(
                    ("true class / given", *(str(column) for column in columns)),
                    [
                        (f"<b>{escape(row)}</b>", *(escape(count) for count in line))
                        for row, line in zip(rows, counts, strict=False)
                    ],
                )
            )
    return "".join(parts)


def examples_section(evaluation: dict[str, Any] | None) -> str:
    out = ["<h2>6. Sample answers</h2>"]
    examples = (evaluation or {}).get("examples") or []
    if not examples:
        return out[0] + missing("No sample answers were recorded.")
    out.append(
        explain(
            "Questions from the held-out records, with the answer the data expected and the "
            "answers of both models, so a reader can judge them directly."
        )
    )
    for number, example in enumerate(examples[:MAX_EXAMPLES], 1):
        out.append(f"<h3>Example {number}</h3>")
        out.append(
            table(
                None,
                (
                    (f"<b>{label}</b>", multiline(example.get(key, "—")))
                    for label, key in (
                        ("Question", "prompt"),
                        ("Expected answer", "reference"),
                        ("Original model", "base"),
                        ("Fine-tuned model", "tuned"),
                    )
                ),
            )
        )
    if len(examples) > MAX_EXAMPLES:
        out.append(f"<p>…and {len(examples) - MAX_EXAMPLES} more in evaluation.json.</p>")
    return "".join(out)


_WINNERS = {"tuned": "fine-tuned better", "base": "original better", "tie": "about the same"}


def review_section(review: dict[str, Any] | None) -> str:
    out = ["<h2>7. Blind review</h2>"]
    if not review:
        return out[0] + missing(
            "No blind review has been done. In a blind review a person compares the two "
            "models' answers without knowing which model wrote which."
        )
    out.append(
        explain(
            "A person compared the two models' answers to the same questions, shown in random "
            "order without saying which model wrote which, and chose the better one or called "
            "it a tie."
        )
    )
    if review.get("reviewer"):
        out.append(f"<p>Reviewed by {escape(review['reviewer'])}.</p>")
    if review.get("automatic_ties"):
        out.append(
            "<p>Pairs of identical answers, counted as ties without asking: "
            f"{format_number(review['automatic_ties'])}.</p>"
        )
    tally = [(key, int(review.get(key) or 0)) for key in ("tuned_wins", "ties", "base_wins")]
    total = sum(count for _, count in tally)
    labels = {
        "tuned_wins": "Fine-tuned model better",
        "ties": "About the same",
        "base_wins": "Original model better",
    }
    out.append(
        table(
            ("Verdict", "Times", "Share"),
            (
                (
                    escape(labels[key]),
                    format_number(count),
                    f"{100 * count / total:.0f}%" if total else "—",
                )
                for key, count in tally
            ),
        )
    )
    comments = [c for c in review.get("comments") or [] if c]
    if comments:
        out.append("<h3>Reviewer's comments</h3><ul>")
        for comment in comments[:MAX_LISTED]:
            if isinstance(comment, Mapping):
                winner = _WINNERS.get(str(comment.get("winner")), "")
                about = f"Question {comment['item']}" if comment.get("item") else ""
                label = ", ".join(part for part in (about, winner) if part)
                text = (f"<b>{escape(label)}:</b> " if label else "") + multiline(
                    comment.get("comment", "")
                )
            else:
                text = multiline(comment)
            out.append(f"<li>{text}</li>")
        out.append("</ul>")
    return "".join(out)


def probe_section(probe: dict[str, Any] | None) -> str:
    out = ["<h2>8. Does the model repeat what it was trained on?</h2>"]
    if not probe:
        return out[0] + missing(
            "The memorisation probe has not been run, so there is no evidence either way "
            "whether the model repeats personal data from its training records."
        )
    out.append(
        explain(
            "For each training record that held personal data, the model was given the start "
            "of the record and its answer checked for the record's personal values. The "
            "values themselves are not printed here."
        )
    )
    types = probe.get("types") or probe.get("leaked_types") or {}
    type_text = (
        ", ".join(f"{k}: {v}" for k, v in types.items())
        if isinstance(types, Mapping)
        else ", ".join(str(t) for t in types)
    )
    leaking = int(probe.get("records_leaking") or 0)
    out.append(
        facts(
            [
                ("Records probed", format_number(probe.get("records_probed", 0))),
                ("Records whose personal values came back", format_number(leaking)),
                ("Kinds of personal data that came back", type_text or "none"),
            ]
        )
    )
    verdict = (
        "The model repeated personal data it was trained on. Consider training with "
        "redaction turned on before using this model."
        if leaking
        else "No personal values came back."
    )
    out.append(f'<p class="{"bad" if leaking else "good"}">{escape(verdict)}</p>')
    out.append("<h3>Word-for-word repetition of long answers</h3>")
    out.append(_verbatim(probe))
    if probe.get("summary") and isinstance(probe["summary"], str):
        out.append(f"<p><b>In plain words:</b> {multiline(probe['summary'])}</p>")
    if probe.get("cancelled"):
        out.append(missing("The probe was stopped early; these counts are partial."))
    return "".join(out)


def _verbatim(probe: dict[str, Any]) -> str:
    """The verbatim check, from the probe's own counts (``answers_probed``...) or from a
    ``verbatim`` dict of counts."""
    verbatim = probe.get("verbatim")
    if "answers_probed" in probe:
        rows = [
            ("Long training answers", format_number(probe.get("long_answers"))),
            ("Answers probed", format_number(probe.get("answers_probed"))),
            ("Answers repeated word for word", format_number(probe.get("answers_reproduced"))),
            (
                "Longest run of characters repeated",
                format_number(probe.get("longest_overlap_chars")),
            ),
        ]
    elif isinstance(verbatim, Mapping) and verbatim:
        rows = [
            (str(key).replace("_", " ").capitalize(), format_number(value))
            for key, value in verbatim.items()
            if not isinstance(value, Mapping | list)
        ]
    else:
        return missing("Word-for-word repetition was not checked.")
    return explain(
        "The model was also given the questions of long training answers, to see "
        "whether it recites the answers word for word."
    ) + facts(rows)


def sign_off_section(sign_off: dict[str, Any] | None) -> str:
    out = ["<h2>9. Sign-off</h2>"]
    if not sign_off:
        out.append(missing("Not signed off yet. To sign by hand, fill in:"))
        blank = "_" * 30
        return "".join(out) + facts(
            [("Reviewer", blank), ("Decision", blank), ("Date", blank), ("Signature", blank)]
        )
    out.append(
        facts(
            [
                ("Reviewer", sign_off.get("reviewer") or "—"),
                ("Decision", sign_off.get("decision") or "—"),
                ("Date", sign_off.get("date") or "—"),
            ]
        )
    )
    if sign_off.get("notes"):
        out.append(f"<p><b>Notes:</b> {multiline(sign_off['notes'])}</p>")
    return "".join(out)


def _hash_rows(title: str, hashes: Any) -> list[tuple[str]]:
    """Two one-cell rows per file: what and where it is, then its whole fingerprint on a
    line of its own (so it is never broken in two)."""
    rows: list[tuple[str]] = []
    if isinstance(hashes, Mapping):
        for path, entry in hashes.items():
            digest = entry.get("sha256", "") if isinstance(entry, Mapping) else str(entry)
            rows.append((f"<b>{escape(title)}:</b> {escape(path)}",))
            rows.append((f'<span class="hash">sha256 {escape(digest)}</span>',))
    return rows


def hashes_section(manifest: dict[str, Any]) -> str:
    out = ["<h2>10. Fingerprints of the files</h2>"]
    out.append(
        explain(
            "A sha256 fingerprint identifies a file's exact content: change one byte and the "
            "fingerprint changes. Recomputing these shows the files are the ones this report "
            "describes. They are copied from the run's manifest.json."
        )
    )
    model = manifest.get("model") or {}
    rows = _hash_rows("Training data", manifest.get("data_files"))
    if model.get("source_sha256"):
        rows += _hash_rows("Original model file", {model.get("source"): model["source_sha256"]})
    rows += _hash_rows("Original model weights", model.get("weights"))
    rows += _hash_rows("Fine-tuning result", manifest.get("outputs"))
    if not rows:
        return "".join(out) + missing("The run's manifest holds no fingerprints.")
    return "".join(out) + table(None, rows)
