"""The Evaluate step's metrics against values worked out by hand."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from desktop_app.engine.eval_metrics import (
    OTHER_LABEL,
    GenerationMetrics,
    bleu,
    classification_metrics,
    exact_match,
    generation_metrics,
    normalize_answer,
    normalize_label,
    rouge_l,
    token_f1,
)

ROOT = Path(__file__).resolve().parents[2]


# --- exact match and token F1 (SQuAD) --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # lower case, punctuation gone (the hyphen too, as in SQuAD), article gone,
        # whitespace collapsed
        ("  The  Eiffel-Tower, in 1889! ", "eiffeltower in 1889"),
        ("An apple a day", "apple day"),
        # articles only as whole words: "another" and "theme" keep their letters
        ("another theme", "another theme"),
        # Unicode punctuation (curly quotes, ellipsis) goes too; accents stay
        ("\u201cZ\u00fcrich\u201d\u2026", "z\u00fcrich"),
        ("$5 or 10%", "5 or 10"),
        ("", ""),
    ],
)
def test_normalize_answer(text: str, expected: str):
    assert normalize_answer(text) == expected


@pytest.mark.parametrize(
    ("prediction", "reference", "expected_em", "expected_f1"),
    [
        # both normalise to "eiffel tower"
        ("The Eiffel Tower!", "eiffel tower", 1.0, 1.0),
        # "in year 1889" vs "1889": shared 1; P = 1/3, R = 1/1; F1 = 2(1/3)(1)/(1/3 + 1) = 1/2
        ("in the year 1889", "1889", 0.0, 0.5),
        # "paris france" vs "france": P = 1/2, R = 1; F1 = 2(1/2)/(3/2) = 2/3
        ("Paris, France", "France", 0.0, 2 / 3),
        # multiset: [very, very, good] & [very, good] = {very: 1, good: 1} -> shared 2;
        # P = 2/3, R = 2/2; F1 = 2(2/3)/(5/3) = 4/5
        ("very very good", "very good", 0.0, 0.8),
        # "London" vs "Paris": nothing shared
        ("London", "Paris", 0.0, 0.0),
        # both empty -> 1.0; "the" normalises to empty as well
        ("", "", 1.0, 1.0),
        ("The.", "", 1.0, 1.0),
        # only one empty -> 0.0
        ("", "Paris", 0.0, 0.0),
        ("Paris", "  ", 0.0, 0.0),
    ],
)
def test_exact_match_and_token_f1(
    prediction: str, reference: str, expected_em: float, expected_f1: float
):
    assert exact_match(prediction, reference) == expected_em
    assert token_f1(prediction, reference) == pytest.approx(expected_f1)


# --- ROUGE-L ---------------------------------------------------------------------------


def test_rouge_l_of_one_pair_from_its_longest_common_subsequence():
    # prediction: the cat sat on the mat   (6 words)
    # reference:  the cat was on a   mat   (6 words)
    # LCS: the, cat, on, mat = 4 -> P = 4/6, R = 4/6, F = 2/3
    assert rouge_l(["The cat sat on the mat."], ["the cat was on a mat"]) == pytest.approx(2 / 3)


def test_rouge_l_averages_the_pairs_and_ignores_word_adjacency_but_not_order():
    predictions = ["the gunman police killed", "police killed the armed gunman yesterday"]
    references = ["police killed the gunman", "police killed the gunman"]
    # pair 1: in order, only "the gunman" or "police killed" -> LCS 2; P = R = 2/4; F = 1/2
    # pair 2: police killed the gunman all appear in order -> LCS 4;
    #         P = 4/6, R = 4/4; F = 2(2/3)(1)/(2/3 + 1) = 4/5
    # mean: (1/2 + 4/5) / 2 = 13/20
    assert rouge_l(predictions, references) == pytest.approx(13 / 20)


def test_rouge_l_keeps_letters_of_every_script():
    # prediction: der zug fährt nach zürich (5 words); reference: zug nach zürich (3)
    # LCS 3 -> P = 3/5, R = 1; F = 2(3/5)/(8/5) = 3/4.
    # (rouge-score's own tokenizer would split "fährt" and "zürich" at the accent: 8/11.)
    assert rouge_l(["Der Zug fährt nach Zürich"], ["Zug nach Zürich"]) == pytest.approx(3 / 4)
    # Chinese has no spaces: one word per character. 我 喜 欢 猫 vs 我 喜 欢 狗: LCS 3 of 4
    assert rouge_l(["我喜欢猫"], ["我喜欢狗"]) == pytest.approx(3 / 4)


def test_rouge_l_scores_text_without_words_zero():
    assert rouge_l(["", "same"], ["", "same"]) == pytest.approx(0.5)


# --- BLEU ------------------------------------------------------------------------------


def test_bleu_of_an_identical_corpus_is_100_and_of_a_disjoint_one_0():
    corpus = ["the cat sat on the mat", "a dog barked at the postman today"]
    assert bleu(corpus, corpus) == pytest.approx(100.0)
    assert bleu(["one two three four"], ["five six seven eight"]) == 0.0


def test_bleu_of_one_pair_with_exp_smoothing():
    # hypothesis: the cat sat on the mat / reference: the cat was on the mat
    # 1-grams: the, cat, on, the, mat match (not sat)             -> 5/6
    # 2-grams: "the cat", "on the", "the mat" match of 5          -> 3/5
    # 3-grams: "on the mat" matches of 4                          -> 1/4
    # 4-grams: none of 3 match; exp smoothing: 1 / (2^1 x 3)      -> 1/6
    # equal lengths, brevity penalty 1
    # BLEU = 100 (5/6 x 3/5 x 1/4 x 1/6)^(1/4) = 100 (1/48)^(1/4) = 37.99
    expected = 100 * (1 / 48) ** 0.25
    assert bleu(["the cat sat on the mat"], ["the cat was on the mat"]) == pytest.approx(expected)


def test_bleu_pools_ngram_counts_over_the_corpus_and_applies_the_brevity_penalty():
    predictions = ["the cat sat on the mat", "the cat sat on the mat"]
    references = ["the cat was on the mat", "the cat sat on the red mat"]
    # pair 1 (above): matches 5, 3, 1, 0 of 6, 5, 4, 3; lengths 6 and 6
    # pair 2: 1-grams 6/6; 2-grams 4/5 ("the mat" is not in the reference);
    #         3-grams 3/4 ("on the mat" is not); 4-grams 2/3; lengths 6 and 7
    # corpus: 11/12, 7/10, 4/8, 2/6 (every order has a match, so no smoothing)
    # prediction length 12 < reference length 13: brevity penalty exp(1 - 13/12)
    expected = 100 * math.exp(1 - 13 / 12) * (11 / 12 * 7 / 10 * 4 / 8 * 2 / 6) ** 0.25
    assert bleu(predictions, references) == pytest.approx(expected)


def test_bleu_is_not_the_mean_of_sentence_scores():
    # alone: identical pair 100, disjoint pair 0, mean 50. Pooled: 1-grams 6/(6+4),
    # 2-grams 5/(5+3), 3-grams 4/(4+2), 4-grams 3/(3+1); equal lengths, no penalty
    # BLEU = 100 (6/10 x 5/8 x 4/6 x 3/4)^(1/4) = 100 (3/16)^(1/4) = 65.8
    predictions = ["the cat sat on the mat", "one two three four"]
    references = ["the cat sat on the mat", "five six seven eight"]
    assert bleu(predictions, references) == pytest.approx(100 * (3 / 16) ** 0.25)


def test_bleu_is_case_sensitive():
    assert bleu(["The Cat Sat Down"], ["the cat sat down"]) == 0.0


# --- all generation metrics ------------------------------------------------------------


def test_generation_metrics_are_means_over_examples_with_corpus_bleu():
    predictions = ["The Eiffel Tower!", "in the year 1889", "London"]
    references = ["eiffel tower", "1889", "Paris"]
    metrics = generation_metrics(predictions, references)
    # EM 1, 0, 0 -> 1/3; F1 1, 1/2, 0 -> 1/2
    assert metrics.exact_match == pytest.approx(1 / 3)
    assert metrics.token_f1 == pytest.approx(1 / 2)
    # ROUGE-L: "the eiffel tower" vs "eiffel tower": LCS 2, P = 2/3, R = 1, F = 4/5;
    # "in the year 1889" vs "1889": P = 1/4, R = 1, F = 2/5; London vs Paris: 0
    assert metrics.rouge_l == pytest.approx((4 / 5 + 2 / 5 + 0) / 3)
    assert metrics.bleu == pytest.approx(bleu(predictions, references))
    assert metrics.count == 3
    assert json.loads(json.dumps(metrics.to_json())) == {
        "exact_match": metrics.exact_match,
        "token_f1": metrics.token_f1,
        "rouge_l": metrics.rouge_l,
        "bleu": metrics.bleu,
        "count": 3,
    }
    assert isinstance(metrics, GenerationMetrics)


@pytest.mark.parametrize("function", [generation_metrics, rouge_l, bleu])
def test_generation_metrics_refuse_unpaired_or_empty_lists(function):
    with pytest.raises(ValueError, match="2 model answers but 1 reference"):
        function(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="no answers"):
        function([], [])


# --- classification --------------------------------------------------------------------


def test_normalize_label_strips_collapses_and_case_folds():
    assert normalize_label(" Billing\n") == "billing"
    assert normalize_label("Late  \t Delivery") == "late delivery"
    assert normalize_label("STRASSE") == normalize_label("straße")
    assert normalize_label("Billing.") != "billing"


def test_classification_metrics_on_three_classes():
    labels = ["billing"] * 4 + ["refund"] * 2 + ["shipping"] * 4
    predictions = [
        "billing", " Billing\n", "shipping", "refund",  # true billing
        "refund", "billing",  # true refund
        "shipping", "SHIPPING", "refund", "shipping",  # true shipping
    ]  # fmt: skip
    metrics = classification_metrics(predictions, labels)
    # rows true, columns predicted: billing, refund, shipping, (other)
    assert metrics.classes == ("billing", "refund", "shipping")
    assert metrics.column_labels == ("billing", "refund", "shipping", OTHER_LABEL)
    assert metrics.confusion_matrix == (
        (2, 1, 1, 0),
        (1, 1, 0, 0),
        (0, 1, 3, 0),
    )
    # diagonal 2 + 1 + 3 = 6 of 10
    assert metrics.accuracy == pytest.approx(0.6)
    billing, refund, shipping = metrics.per_class
    # billing: P = 2/(2+1+0) = 2/3, R = 2/4 = 1/2, F1 = 2(2/3)(1/2)/(2/3 + 1/2) = 4/7
    assert (billing.label, billing.support, billing.predicted) == ("billing", 4, 3)
    assert billing.precision == pytest.approx(2 / 3)
    assert billing.recall == pytest.approx(1 / 2)
    assert billing.f1 == pytest.approx(4 / 7)
    # refund: P = 1/(1+1+1) = 1/3, R = 1/2, F1 = 2(1/6)/(5/6) = 2/5
    assert (refund.support, refund.predicted) == (2, 3)
    assert (refund.precision, refund.recall) == pytest.approx((1 / 3, 1 / 2))
    assert refund.f1 == pytest.approx(2 / 5)
    # shipping: P = 3/(1+0+3) = 3/4, R = 3/4, F1 = 3/4
    assert (shipping.precision, shipping.recall, shipping.f1) == pytest.approx((3 / 4,) * 3)
    # macro: P = (2/3 + 1/3 + 3/4)/3 = 7/12; R = (1/2 + 1/2 + 3/4)/3 = 7/12;
    # F1 = (4/7 + 2/5 + 3/4)/3 = (80 + 56 + 105)/140/3 = 241/420
    assert metrics.macro_precision == pytest.approx(7 / 12)
    assert metrics.macro_recall == pytest.approx(7 / 12)
    assert metrics.macro_f1 == pytest.approx(241 / 420)
    assert metrics.other_predictions == 0
    assert metrics.count == 10


def test_a_class_never_predicted_has_precision_zero():
    metrics = classification_metrics(["a", "a", "a", "c"], ["a", "a", "b", "c"])
    assert metrics.confusion_matrix == ((2, 0, 0, 0), (1, 0, 0, 0), (0, 0, 1, 0))
    a, b, c = metrics.per_class
    # a: P = 2/3, R = 2/2, F1 = 2(2/3)/(5/3) = 4/5
    assert (a.precision, a.recall, a.f1) == pytest.approx((2 / 3, 1.0, 4 / 5))
    # b: never predicted -> precision 0/0 -> 0.0; recall 0/1; F1 0.0
    assert (b.precision, b.recall, b.f1, b.predicted) == (0.0, 0.0, 0.0, 0)
    assert (c.precision, c.recall, c.f1) == (1.0, 1.0, 1.0)
    # macro over a, b, c: P = (2/3 + 0 + 1)/3 = 5/9; R = (1 + 0 + 1)/3 = 2/3;
    # F1 = (4/5 + 0 + 1)/3 = 3/5
    assert metrics.macro_precision == pytest.approx(5 / 9)
    assert metrics.macro_recall == pytest.approx(2 / 3)
    assert metrics.macro_f1 == pytest.approx(3 / 5)
    assert metrics.accuracy == pytest.approx(3 / 4)


def test_predictions_outside_the_classes_go_to_the_other_column():
    metrics = classification_metrics(["Yes", "maybe", "no", ""], ["yes", "yes", "no", "no"])
    assert metrics.classes == ("no", "yes")
    # "maybe" (true yes) and "" (true no) match no class
    assert metrics.confusion_matrix == ((1, 0, 1), (0, 1, 1))
    assert metrics.other_predictions == 2
    assert metrics.accuracy == pytest.approx(1 / 2)
    # no: P = 1/1, R = 1/2, F1 = 2/3; yes: the same; "(other)" is no class of its own
    assert [c.label for c in metrics.per_class] == ["no", "yes"]
    for per_class in metrics.per_class:
        assert (per_class.precision, per_class.recall) == pytest.approx((1.0, 1 / 2))
        assert per_class.f1 == pytest.approx(2 / 3)
    assert metrics.macro_f1 == pytest.approx(2 / 3)
    document = json.loads(json.dumps(metrics.to_json()))
    assert document["confusion_matrix"] == {
        "rows": ["no", "yes"],
        "columns": ["no", "yes", OTHER_LABEL],
        "counts": [[1, 0, 1], [0, 1, 1]],
    }
    assert document["per_class"][0] == {
        "label": "no",
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3),
        "support": 2,
        "predicted": 1,
    }
    assert document["other_predictions"] == 2


def test_given_classes_fix_the_order_and_spelling_and_absent_ones_skip_the_macro_mean():
    metrics = classification_metrics(
        [" billing", "BILLING"], ["Billing", "refund"], classes=["Shipping", "Refund", "Billing"]
    )
    assert metrics.classes == ("Billing", "Refund", "Shipping")
    assert metrics.confusion_matrix == ((1, 0, 0, 0), (1, 0, 0, 0), (0, 0, 0, 0))
    # Billing: P = 1/2, R = 1, F1 = 2/3; Refund: 0, 0, 0; Shipping occurs nowhere, so
    # the macro mean is over Billing and Refund: F1 = (2/3 + 0)/2 = 1/3
    assert metrics.per_class[2].support == metrics.per_class[2].predicted == 0
    assert metrics.macro_precision == pytest.approx(1 / 4)
    assert metrics.macro_recall == pytest.approx(1 / 2)
    assert metrics.macro_f1 == pytest.approx(1 / 3)


def test_class_spelling_comes_from_the_first_true_label():
    metrics = classification_metrics(["late delivery"], ["  Late   Delivery "])
    assert metrics.classes == ("Late Delivery",)
    assert metrics.accuracy == 1.0


def test_classification_metrics_refuse_bad_input():
    with pytest.raises(ValueError, match="1 predicted labels but 2 true"):
        classification_metrics(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="no labels"):
        classification_metrics([], [])
    with pytest.raises(ValueError, match="true label number 2 is empty"):
        classification_metrics(["a", "a"], ["a", " "])
    with pytest.raises(ValueError, match='"b", is not one of the classes'):
        classification_metrics(["a", "a"], ["a", "b"], classes=["a"])


# --- offline ---------------------------------------------------------------------------

_NO_NETWORK_SCRIPT = textwrap.dedent(
    """
    import socket

    class NetworkUsed(Exception):
        pass

    def refuse(*args, **kwargs):
        raise NetworkUsed(f"network call: {args!r}")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.getaddrinfo = refuse
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    except NetworkUsed:
        pass
    else:
        raise SystemExit("the guard did not stop a connection")

    from desktop_app.engine import eval_metrics

    eval_metrics.generation_metrics(["the cat sat"], ["the cat sat down"])
    eval_metrics.classification_metrics(["a", "b"], ["a", "a"])
    print("no network")
    """
)


def test_importing_and_using_the_metrics_makes_no_network_call():
    # A fresh interpreter, so that importing rouge-score, nltk and sacrebleu happens
    # under the guard too.
    completed = subprocess.run(
        [sys.executable, "-c", _NO_NETWORK_SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "no network"
