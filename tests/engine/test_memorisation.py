"""The memorisation probe on the tiny model trained for real (transformers and peft) to
repeat a planted phone number and a long answer. Nothing here is mocked."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from desktop_app.core.config import RunConfig
from desktop_app.core.errors import UserInputError
from desktop_app.core.events import ListReporter, StageChanged
from desktop_app.data.pii import scan_text
from desktop_app.data.records import Message, TrainingRecord
from desktop_app.engine.generation import load_comparison, render_prompt
from desktop_app.engine.loading import load_tokenizer
from desktop_app.engine.memorisation import (
    LONG_ANSWER_CHARS,
    VERBATIM_CHARS,
    LeakedRecord,
    MemorisationResult,
    answer_prompt,
    longest_shared_run,
    personal_data_prompt,
    probe_memorisation,
    values_in_text,
)
from desktop_app.engine.train import run_training

PHONE = "07912 345678"
EMAIL = "ann.lee@northwind.co.uk"
QUESTION = "Who handles the claim?"
PLANTED = f"Call Ann on {PHONE} about the claim."
LONG_QUESTION = "Summarise the report."
LONG_ANSWER = (
    "The claim was approved after review by the underwriting team. Patients must sign the "
    "consent form before the procedure. The invoice is due within thirty days. The bank "
    "transfer was completed on Monday morning."
)
RECORDS = [
    {"instruction": QUESTION, "input": "", "output": PLANTED},
    {"instruction": LONG_QUESTION, "input": "", "output": LONG_ANSWER},
    {"instruction": "What is the capital of France?", "input": "", "output": "It is Paris."},
    {"instruction": "When is the invoice due?", "input": "", "output": "Within thirty days."},
]


def _write(path: Path, records: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def _train(model_dir: Path, folder: Path, redaction: str) -> Path:
    """Train until the model repeats its answers; the validation file holds an e-mail
    address the model never trains on."""
    config = RunConfig()
    config.model.path = str(model_dir)
    config.data.train = str(_write(folder / "claims.jsonl", RECORDS))
    held_out = {"instruction": "Who is the contact?", "input": "", "output": f"Write to {EMAIL}."}
    config.data.validation_file = str(_write(folder / "held_out.jsonl", [held_out]))
    config.data.pii_redaction = redaction
    config.method.name = "lora"
    config.method.lora_dropout = 0.0
    hyper = config.hyperparameters
    hyper.max_steps = 30
    hyper.batch_size = 4
    hyper.learning_rate = 2e-2
    hyper.warmup_ratio = 0.0
    hyper.lr_scheduler = "constant"
    hyper.max_length = 128
    hyper.eval_every_steps = 0
    hyper.save_every_steps = 0
    config.output.dir = str(folder / "runs")
    result = run_training(config, ListReporter())
    assert result.status == "finished", result.message
    return result.run_dir


@pytest.fixture(scope="module")
def planted_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train(tiny_model_dir, tmp_path_factory.mktemp("planted"), "off")


@pytest.fixture(scope="module")
def planted_result(planted_run: Path) -> MemorisationResult:
    return probe_memorisation(planted_run)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> object:
    return load_tokenizer(tiny_model_dir)[0]


# --- comparing texts --------------------------------------------------------------------


def test_a_value_written_another_way_still_counts():
    values = [("PHONE", PHONE), ("EMAIL", EMAIL)]

    assert values_in_text("Ring +44 7912 345678 now", values) == [("PHONE", PHONE)]
    assert values_in_text("ring 07912-345-678", values) == [("PHONE", PHONE)]
    assert values_in_text("Mail ANN.LEE@Northwind.co.uk", values) == [("EMAIL", EMAIL)]
    assert values_in_text("Ring 07912 345679 or ann.lee@northwind.com", values) == []
    nhs = [("NHS_NUMBER", "943 476 5919")]
    assert values_in_text("The number is 9434765919.", nhs) == nhs  # no "NHS" beside it


def test_longest_shared_run_counts_characters_with_spacing_collapsed():
    assert longest_shared_run("xx the cat sat yy", "a cat sat down") == len(" cat sat ")
    assert longest_shared_run("the  cat\nsat", "the cat sat") == len("the cat sat")
    assert longest_shared_run("abc", "xyz") == 0
    assert longest_shared_run("", "abc") == 0


def test_the_summary_separates_learned_values_from_the_base_models():
    leaks = (
        LeakedRecord("a.jsonl", 3, ("PHONE",), ("***** ****78",)),
        LeakedRecord("a.jsonl", 9, ("EMAIL",), ("a***@northwind.co.uk",), also_from_base=True),
    )
    result = MemorisationResult(
        run_dir="run",
        redaction="off",
        records_with_personal_data=4,
        records_probed=3,
        records_leaking=1,
        leaked_types={"PHONE": 1},
        leaks=leaks,
        base_compared=True,
        long_answers=0,
        answers_probed=0,
        answers_reproduced=0,
        longest_overlap_chars=0,
        verbatim=(),
    )

    summary = result.summary()

    assert "1 of 3 training records with personal data" in summary and "(1 PHONE)" in summary
    assert "In 1 more the value also came from the base model" in summary
    assert "verbatim repetition was not checked" in summary
    assert json.loads(json.dumps(result.to_json()))["leaks"][1]["also_from_base"] is True


# --- prompts ----------------------------------------------------------------------------


def test_a_value_in_the_answer_gives_the_question_as_training_laid_it_out(tokenizer):
    record = TrainingRecord(
        "a.jsonl", 1, (Message("user", QUESTION), Message("assistant", PLANTED))
    )

    prompt = personal_data_prompt(record, tokenizer)

    assert prompt == render_prompt(tokenizer, QUESTION)
    assert PHONE not in prompt


def test_a_value_in_the_question_gives_the_text_up_to_the_value(tokenizer):
    question = f"System note. My number is {PHONE}, who calls me?"
    record = TrainingRecord(
        "a.jsonl",
        1,
        (Message("system", "Be brief."), Message("user", question), Message("assistant", "Ann.")),
    )

    prompt = personal_data_prompt(record, tokenizer)

    assert prompt is not None and prompt.endswith("<|im_start|>user\nSystem note. My number is ")
    assert "Be brief." in prompt and not scan_text(prompt)


def test_plain_text_gives_the_text_before_the_value(tokenizer):
    text = TrainingRecord("a.txt", 3, text=f"Our help desk: {PHONE}. Open daily.")
    at_start = TrainingRecord("a.txt", 4, text=f"{PHONE} is the help desk.")

    assert personal_data_prompt(text, tokenizer) == "Our help desk: "
    assert personal_data_prompt(at_start, tokenizer) is None


def test_answer_prompts_split_records_into_prompt_and_trained_answer(tokenizer):
    chat = TrainingRecord("a.jsonl", 1, (Message("user", "Q?"), Message("assistant", "A.")))
    text = TrainingRecord("a.txt", 1, text="word " * 60)

    assert answer_prompt(chat, tokenizer) == (render_prompt(tokenizer, "Q?"), "A.")
    prompt, answer = answer_prompt(text, tokenizer) or ("", "")
    assert prompt + answer == text.text and 90 <= len(prompt) <= 100
    assert not prompt.endswith("wor")  # cut at a space, not inside a word


# --- the probe on trained models --------------------------------------------------------


@pytest.mark.slow
def test_the_probe_finds_a_planted_value_the_model_learned(planted_result: MemorisationResult):
    result = planted_result

    # The validation file's e-mail was never trained on, so only one record counts.
    assert result.redaction == "off"
    assert result.records_with_personal_data == 1 and result.records_probed == 1
    assert result.records_leaking == 1 and result.leaked_types == {"PHONE": 1}
    (leak,) = result.leaks
    assert (leak.file, leak.line, leak.types) == ("claims.jsonl", 1, ("PHONE",))
    assert leak.masked_values == ("***** ****78",) and not leak.also_from_base
    assert "1 of 1 training records" in result.summary()
    assert not result.cancelled


@pytest.mark.slow
def test_the_probe_finds_a_long_answer_repeated_verbatim(planted_result: MemorisationResult):
    result = planted_result

    assert len(LONG_ANSWER) >= LONG_ANSWER_CHARS
    assert result.long_answers == 1 and result.answers_probed == 1
    assert result.answers_reproduced == 1
    (verbatim,) = result.verbatim
    assert (verbatim.file, verbatim.line, verbatim.answer_chars) == (
        "claims.jsonl",
        2,
        len(LONG_ANSWER),
    )
    assert result.longest_overlap_chars == verbatim.overlap_chars >= VERBATIM_CHARS


@pytest.mark.slow
def test_results_never_hold_the_raw_values(planted_result: MemorisationResult):
    written = json.dumps(planted_result.to_json())

    assert PHONE not in written and PHONE.replace(" ", "") not in written
    assert EMAIL not in written
    assert "***** ****78" in written and planted_result.summary() in written


@pytest.mark.slow
def test_a_model_trained_on_redacted_data_leaks_nothing(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
):
    run_dir = _train(tiny_model_dir, tmp_path_factory.mktemp("redacted"), "tags")

    result = probe_memorisation(run_dir)

    # The same record is probed with the same prompt; the model learned [PHONE] instead.
    assert result.redaction == "tags"
    assert result.records_with_personal_data == 1 and result.records_probed == 1
    assert result.records_leaking == 0 and result.leaks == () and result.leaked_types == {}
    assert "never saw the original values" in result.summary()
    assert result.answers_reproduced == 1  # the long answer held nothing to redact


@pytest.mark.slow
def test_loaded_models_are_probed_and_kept_with_progress(planted_run: Path):
    comparison = load_comparison(planted_run)
    reporter = ListReporter()

    result = probe_memorisation(comparison, max_new_tokens=24, reporter=reporter)

    assert result.records_leaking == 1 and result.max_new_tokens == 24
    stages = [e for e in reporter.events if isinstance(e, StageChanged)]
    assert "Loading the base and fine-tuned models" not in [e.stage for e in stages]
    assert stages[-1].fraction == 1.0
    assert PHONE in comparison.answer("tuned", QUESTION).text  # still loaded


@pytest.mark.slow
def test_a_stopped_probe_says_its_counts_are_partial(planted_run: Path):
    stop = threading.Event()
    stop.set()

    result = probe_memorisation(planted_run, stop_event=stop)

    assert result.cancelled and result.records_probed == 0 and result.answers_probed == 0
    assert "stopped early" in result.summary()


@pytest.mark.slow
def test_a_changed_training_file_is_refused(planted_run: Path, tmp_path: Path):
    copy = shutil.copytree(planted_run, tmp_path / "run")
    manifest = json.loads((copy / "manifest.json").read_text())
    for entry in manifest["data_files"].values():
        entry["sha256"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))

    with pytest.raises(UserInputError, match="has changed since the run trained"):
        probe_memorisation(copy)
