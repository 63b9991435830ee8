"""Scores for the Evaluate step: model answers compared with the reference answers.

Generation tasks get exact match, token-level F1, ROUGE-L and BLEU; classification
tasks (text + label data) get accuracy, per-class and macro precision, recall and F1,
and a confusion matrix. Everything here is plain Python on strings and runs offline:
ROUGE-L's longest common subsequence comes from ``rouge-score`` and BLEU from
``sacrebleu``; neither downloads anything (``evaluate.load`` would fetch metric code
from a hub, which is why it is not used). Both are imported when they score.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

#: Column of the confusion matrix for predictions that match none of the known classes.
OTHER_LABEL = "(other)"

_ARTICLES = re.compile(r"\b(a|an|the)\b")
# One token per CJK character (those scripts do not put spaces between words), and
# runs of any other letters or digits, in any script.
_ROUGE_TOKENS = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]|[^\W_]+")


def _is_punctuation(character: str) -> bool:
    return character in string.punctuation or unicodedata.category(character).startswith("P")


def normalize_answer(text: str) -> str:
    """Normalise an answer the way SQuAD's official evaluation does.

    Steps, in this order: lower case; remove punctuation (ASCII punctuation and
    symbols such as ``$`` and ``%``, as SQuAD does, plus any Unicode punctuation such
    as curly quotes); remove the English articles "a", "an" and "the" as whole words;
    collapse runs of whitespace into single spaces and trim the ends.

    Args:
        text: A model answer or a reference answer.

    Returns:
        The normalised text, e.g. ``"The  Eiffel Tower!"`` -> ``"eiffel tower"``.
    """
    lowered = text.lower()
    without_punctuation = "".join(c for c in lowered if not _is_punctuation(c))
    without_articles = _ARTICLES.sub(" ", without_punctuation)
    return " ".join(without_articles.split())


def exact_match(prediction: str, reference: str) -> float:
    """1.0 if the two answers are equal after :func:`normalize_answer`, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(reference))


def token_f1(prediction: str, reference: str) -> float:
    """Word overlap between two answers, as SQuAD's official evaluation computes it.

    Both answers are normalised (:func:`normalize_answer`) and split on whitespace.
    Shared words are counted as a multiset (a word used twice in both counts twice);
    precision is shared / prediction words, recall is shared / reference words, and
    F1 is their harmonic mean.

    Args:
        prediction: The model's answer.
        reference: The expected answer.

    Returns:
        F1 in 0..1: 1.0 when both answers are empty after normalisation, 0.0 when
        only one of them is, or when they share no word.
    """
    prediction_tokens = normalize_answer(prediction).split()
    reference_tokens = normalize_answer(reference).split()
    if not prediction_tokens or not reference_tokens:
        return float(prediction_tokens == reference_tokens)
    shared = sum((Counter(prediction_tokens) & Counter(reference_tokens)).values())
    if shared == 0:
        return 0.0
    precision = shared / len(prediction_tokens)
    recall = shared / len(reference_tokens)
    return 2 * precision * recall / (precision + recall)


class _UnicodeWordTokenizer:
    """Words for ROUGE in any script; ``rouge-score``'s own tokenizer keeps only a-z and 0-9.

    With its default tokenizer "Zürich" becomes "z rich" and Chinese or Greek text
    becomes nothing at all. This one lower-cases, drops punctuation like the default
    and keeps letters of every script; for plain ASCII text it gives the same words.
    """

    def tokenize(self, text: str) -> list[str]:
        return _ROUGE_TOKENS.findall(text.lower())


def _check_pairs(predictions: Sequence[str], references: Sequence[str]) -> None:
    if len(predictions) != len(references):
        raise ValueError(
            f"There are {len(predictions)} model answers but {len(references)} reference "
            "answers; each answer needs exactly one reference."
        )
    if not predictions:
        raise ValueError("There are no answers to score; evaluate at least one example.")


def rouge_l(predictions: Sequence[str], references: Sequence[str]) -> float:
    """ROUGE-L F-measure, averaged over the (prediction, reference) pairs.

    For each pair the longest common subsequence (LCS) of words is found: words in the
    same order, not necessarily next to each other. Precision is LCS / prediction words,
    recall is LCS / reference words, and the pair's score is their harmonic mean (0.0
    when either text has no words). Words are lower-cased, punctuation is dropped and
    no stemming is applied ("killed" does not match "kill"): stemming is English-only.

    Args:
        predictions: The model's answers.
        references: The expected answers, one per prediction.

    Returns:
        The mean F-measure, 0..1.

    Raises:
        ValueError: When the lists differ in length or are empty.
    """
    from rouge_score import rouge_scorer

    _check_pairs(predictions, references)
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_UnicodeWordTokenizer())
    total = 0.0
    for prediction, reference in zip(predictions, references, strict=True):
        # rouge-score takes the reference ("target") first.
        total += scorer.score(reference, prediction)["rougeL"].fmeasure
    return total / len(predictions)


def bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU, 0..100, from ``sacrebleu`` with its defaults.

    Matching n-grams (1 to 4 words) are counted over the whole corpus, not per answer:
    BLEU = brevity penalty x geometric mean of the four n-gram precisions, where the
    brevity penalty is exp(1 - reference words / prediction words) when the predictions
    are shorter in total, else 1. The text is split by sacrebleu's default "13a"
    tokenizer (punctuation split from words) and is case-sensitive. Smoothing is
    sacrebleu's default "exp" (the NIST mteval-v13a method): an n-gram order with no
    match at all gets precision 1 / (2^k x n-grams of that order), k counting such
    orders from 1, so one missing order does not zero the score; with no matching
    word at all BLEU is 0.

    Args:
        predictions: The model's answers.
        references: The expected answers, one per prediction.

    Returns:
        Corpus BLEU in 0..100.

    Raises:
        ValueError: When the lists differ in length or are empty.
    """
    from sacrebleu.metrics import BLEU

    _check_pairs(predictions, references)
    # force=True only silences sacrebleu's "looks already tokenized" warning, which is
    # meant for researchers passing tokenized files, not for model answers.
    metric = BLEU(force=True)
    return float(metric.corpus_score(list(predictions), [list(references)]).score)


@dataclass(frozen=True)
class GenerationMetrics:
    """Scores of a set of generated answers against their reference answers.

    Args:
        exact_match: Share of answers equal to the reference after normalisation, 0..1.
        token_f1: Mean SQuAD word-overlap F1, 0..1.
        rouge_l: Mean ROUGE-L F-measure, 0..1.
        bleu: Corpus BLEU, 0..100 (sacrebleu's scale).
        count: Answers scored.
    """

    exact_match: float
    token_f1: float
    rouge_l: float
    bleu: float
    count: int

    def to_json(self) -> dict[str, Any]:
        """The scores as a JSON-ready dictionary."""
        return asdict(self)


def generation_metrics(predictions: Sequence[str], references: Sequence[str]) -> GenerationMetrics:
    """All generation scores for one model's answers.

    Exact match, token F1 and ROUGE-L are means over the examples; BLEU is corpus BLEU
    (see :func:`bleu`), the usual way to report it.

    Args:
        predictions: The model's answers.
        references: The expected answers, one per prediction.

    Returns:
        The scores.

    Raises:
        ValueError: When the lists differ in length or are empty.
    """
    _check_pairs(predictions, references)
    pairs = list(zip(predictions, references, strict=True))
    return GenerationMetrics(
        exact_match=math.fsum(exact_match(p, r) for p, r in pairs) / len(pairs),
        token_f1=math.fsum(token_f1(p, r) for p, r in pairs) / len(pairs),
        rouge_l=rouge_l(predictions, references),
        bleu=bleu(predictions, references),
        count=len(pairs),
    )


def normalize_label(label: str) -> str:
    """The form in which a predicted label is compared with the true labels.

    Surrounding whitespace is stripped, runs of inner whitespace become one space and
    the text is case-folded, so a generated " Billing\\n" counts as "billing".
    Punctuation is kept: "Billing." is not "billing".

    Args:
        label: A true label or a model's predicted label.

    Returns:
        The normalised label.
    """
    return " ".join(label.split()).casefold()


@dataclass(frozen=True)
class ClassMetrics:
    """How well one class was predicted.

    Args:
        label: The class, spelled as in the data (or in ``classes``).
        precision: Of the examples predicted as this class, the share that were; 0.0
            when it was never predicted.
        recall: Of the examples of this class, the share predicted as it; 0.0 when no
            example has it.
        f1: Harmonic mean of precision and recall; 0.0 when both are 0.
        support: Examples whose true label is this class.
        predicted: Examples predicted as this class.
    """

    label: str
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


@dataclass(frozen=True)
class ClassificationMetrics:
    """Scores of predicted labels against true labels.

    Args:
        accuracy: Share of examples whose predicted label matches the true label.
        per_class: One entry per class, in ``classes`` order.
        macro_precision: Unweighted mean of the per-class precisions.
        macro_recall: Unweighted mean of the per-class recalls.
        macro_f1: Unweighted mean of the per-class F1 scores.
        classes: The class labels in the fixed order of rows and columns.
        confusion_matrix: Counts; row i is true class ``classes[i]``, column j is
            predicted ``classes[j]``, and the last column counts predictions outside
            the known classes (:data:`OTHER_LABEL`).
        other_predictions: Predictions that matched none of the known classes.
        count: Examples scored.
    """

    accuracy: float
    per_class: tuple[ClassMetrics, ...]
    macro_precision: float
    macro_recall: float
    macro_f1: float
    classes: tuple[str, ...]
    confusion_matrix: tuple[tuple[int, ...], ...]
    other_predictions: int
    count: int

    @property
    def column_labels(self) -> tuple[str, ...]:
        """Headers of the confusion matrix's columns: the classes, then "(other)"."""
        return (*self.classes, OTHER_LABEL)

    def to_json(self) -> dict[str, Any]:
        """The scores as a JSON-ready dictionary."""
        return {
            "accuracy": self.accuracy,
            "macro_precision": self.macro_precision,
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
            "per_class": [asdict(per_class) for per_class in self.per_class],
            "confusion_matrix": {
                "rows": list(self.classes),
                "columns": list(self.column_labels),
                "counts": [list(row) for row in self.confusion_matrix],
            },
            "other_predictions": self.other_predictions,
            "count": self.count,
        }


def _ratio(numerator: int | float, denominator: int | float) -> float:
    """numerator / denominator, or 0.0 when the denominator is 0 (scikit-learn's
    ``zero_division=0``)."""
    return numerator / denominator if denominator else 0.0


def _known_classes(labels: Sequence[str], classes: Sequence[str] | None) -> dict[str, str]:
    """Normalised label -> spelling to show, sorted by the normalised label."""
    spellings: dict[str, str] = {}
    source = labels if classes is None else classes
    for position, label in enumerate(source, start=1):
        key = normalize_label(label)
        if not key:
            where = "true label" if classes is None else "class"
            raise ValueError(f"The {where} number {position} is empty; every one needs a name.")
        spellings.setdefault(key, " ".join(label.split()))
    if classes is not None:
        for position, label in enumerate(labels, start=1):
            if normalize_label(label) not in spellings:
                raise ValueError(
                    f'The true label number {position}, "{label.strip()}", is not one of '
                    "the classes given; add it to the classes or correct the data."
                )
    return {key: spellings[key] for key in sorted(spellings)}


def classification_metrics(
    predictions: Sequence[str],
    labels: Sequence[str],
    classes: Sequence[str] | None = None,
) -> ClassificationMetrics:
    """Accuracy, per-class and macro precision/recall/F1 and the confusion matrix.

    Labels are compared after :func:`normalize_label`. The known classes are
    ``classes`` if given, else the distinct true labels; they are sorted (by their
    normalised form), which fixes the order of rows and columns. A prediction that
    matches no known class goes to the "(other)" column: it counts as wrong for
    accuracy and for its true class's recall, but it is not a class and has no
    precision of its own.

    Macro scores are the unweighted mean over the known classes that occur in the
    true labels or the predictions (a class given in ``classes`` that occurs in
    neither is left out, as scikit-learn does). Any division by zero gives 0.0, like
    scikit-learn's ``zero_division=0``: a class never predicted has precision 0.0.

    Args:
        predictions: The model's labels, e.g. generated text such as " Billing\\n".
        labels: The true labels, one per prediction.
        classes: The full set of classes, if known (e.g. from the training data).

    Returns:
        The scores.

    Raises:
        ValueError: When the lists differ in length or are empty, a true label or
            class is empty, or a true label is not among ``classes``.
    """
    if len(predictions) != len(labels):
        raise ValueError(
            f"There are {len(predictions)} predicted labels but {len(labels)} true "
            "labels; each prediction needs exactly one true label."
        )
    if not labels:
        raise ValueError("There are no labels to score; evaluate at least one example.")
    known = _known_classes(labels, classes)
    index = {key: position for position, key in enumerate(known)}
    other_column = len(known)
    matrix = [[0] * (len(known) + 1) for _ in known]
    for predicted, true in zip(predictions, labels, strict=True):
        column = index.get(normalize_label(predicted), other_column)
        matrix[index[normalize_label(true)]][column] += 1

    per_class = []
    for position, spelling in enumerate(known.values()):
        correct = matrix[position][position]
        support = sum(matrix[position])
        predicted_count = sum(row[position] for row in matrix)
        precision = _ratio(correct, predicted_count)
        recall = _ratio(correct, support)
        f1 = _ratio(2 * precision * recall, precision + recall)
        per_class.append(ClassMetrics(spelling, precision, recall, f1, support, predicted_count))
    occurring = [c for c in per_class if c.support or c.predicted]
    return ClassificationMetrics(
        accuracy=sum(matrix[i][i] for i in range(len(known))) / len(labels),
        per_class=tuple(per_class),
        macro_precision=_ratio(math.fsum(c.precision for c in occurring), len(occurring)),
        macro_recall=_ratio(math.fsum(c.recall for c in occurring), len(occurring)),
        macro_f1=_ratio(math.fsum(c.f1 for c in occurring), len(occurring)),
        classes=tuple(known.values()),
        confusion_matrix=tuple(tuple(row) for row in matrix),
        other_predictions=sum(row[other_column] for row in matrix),
        count=len(labels),
    )
