"""Evaluating a finished run: held-out loss, batched answers and task scores, on the
tiny model trained for real with transformers and peft. Nothing here is mocked."""

from __future__ import annotations

import json
import math
import shutil
import threading
from pathlib import Path

import pytest
import torch
from tiny_runs import FACTS, memorising_config, write_jsonl
from transformers import AutoModelForCausalLM

from desktop_app.core.audit import AuditLog
from desktop_app.core.config_io import load_config, save_config
from desktop_app.core.errors import UserInputError
from desktop_app.core.events import ListReporter, StageChanged
from desktop_app.core.hashing import sha256_file
from desktop_app.data.records import Message, TrainingRecord
from desktop_app.engine.evaluation import EVALUATION_FILE, ComparedExample, evaluate_run
from desktop_app.engine.generation import (
    GenerationSettings,
    generate,
    generate_batch,
    load_comparison,
)
from desktop_app.engine.held_out import answer_loss
from desktop_app.engine.loading import load_tokenizer
from desktop_app.engine.sft_data import IGNORE_INDEX, encode_records
from desktop_app.engine.train import TrainResult, run_training

SHORT = GenerationSettings(max_new_tokens=16)


@pytest.fixture(scope="module")
def lora_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """Four facts asked four ways, learned at a high rate: a quarter kept for validation."""
    folder = tmp_path_factory.mktemp("evaluation-run")
    config = memorising_config(
        tiny_model_dir, folder, method="lora", max_steps=20, learning_rate=2e-2
    )
    result = run_training(config, ListReporter())
    assert result.status == "finished", result.message
    return result


@pytest.fixture(scope="module")
def evaluated(lora_run: TrainResult) -> tuple[object, ListReporter, list[ComparedExample]]:
    reporter = ListReporter()
    streamed: list[ComparedExample] = []
    result = evaluate_run(
        lora_run.run_dir, settings=SHORT, reporter=reporter, on_example=streamed.append
    )
    return result, reporter, streamed


def test_tuned_loss_is_lower_than_base_loss_on_the_validation_records(evaluated, lora_run):
    result, reporter, streamed = evaluated

    assert result.status == "finished"
    assert result.data.source == "validation" and result.data.records == 4
    assert result.data.loss_records == 4 and result.data.answered == 4
    assert result.tuned.loss < result.base.loss
    assert result.tuned.perplexity == pytest.approx(math.exp(result.tuned.loss))
    assert result.data.loss_tokens > 0
    # The same records and the same tokens as training's own validation: the same loss.
    assert result.tuned.loss == pytest.approx(lora_run.metrics["eval_loss"], rel=1e-4)
    # The examples streamed as they were answered, and the tuned model learned the facts.
    assert [example.location for example in streamed] == [
        example.location for example in result.examples
    ]
    assert result.tuned.generation.token_f1 > result.base.generation.token_f1
    assert result.tuned.classification is None
    stages = [event.stage for event in reporter.of_type(StageChanged)]
    assert "Measuring the fine-tuned model's loss" in stages
    assert stages[-1] == "Evaluation done"


def test_the_evaluation_is_saved_in_the_run_folder(evaluated, lora_run):
    result, _, _ = evaluated
    saved = json.loads((lora_run.run_dir / EVALUATION_FILE).read_text(encoding="utf-8"))

    assert saved == json.loads(json.dumps(result.to_json()))
    for side in ("base", "tuned"):
        assert set(saved[side]) >= {"loss", "perplexity", "generation"}
        assert set(saved[side]["generation"]) >= {"exact_match", "token_f1", "rouge_l", "bleu"}
    example = saved["examples"][0]
    assert set(example) >= {"prompt", "reference", "base", "tuned"}
    assert example["reference"] in {answer for _, answer in FACTS}
    assert saved["data"]["files"] == [str(Path(lora_run.run_dir).parent.parent / "facts.jsonl")]


def _cross_entropy_by_hand(model, examples) -> float:
    total, count = 0.0, 0
    for example in examples:
        with torch.no_grad():
            logits = model(torch.tensor([example.input_ids])).logits[0]
        log_probs = torch.log_softmax(logits.double(), dim=-1)
        for position in range(1, len(example.labels)):
            if example.labels[position] != IGNORE_INDEX:
                total -= float(log_probs[position - 1, example.labels[position]])
                count += 1
    return total / count


def test_loss_matches_cross_entropy_computed_by_hand(tiny_model_dir: Path):
    tokenizer, _ = load_tokenizer(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32).eval()
    records = [
        TrainingRecord("toy.jsonl", 1, (Message("user", "Hi?"), Message("assistant", "Hello."))),
        TrainingRecord(
            "toy.jsonl",
            2,
            (Message("user", "Where is the invoice?"), Message("assistant", "In the drawer.")),
        ),
    ]
    examples, _ = encode_records(records, tokenizer, 64, train_on_prompt=False)
    expected = _cross_entropy_by_hand(model, examples)

    one_by_one = answer_loss(model, examples, tokenizer.pad_token_id, batch_size=1)
    together = answer_loss(model, examples, tokenizer.pad_token_id, batch_size=2)

    assert one_by_one is not None and together is not None
    assert one_by_one.loss == pytest.approx(expected, rel=1e-5)
    assert together.loss == pytest.approx(expected, rel=1e-5)  # padding does not count
    answer_tokens = sum(label != IGNORE_INDEX for e in examples for label in e.labels[1:])
    assert together.tokens == answer_tokens and together.examples == 2


def test_batched_greedy_answers_equal_one_at_a_time(lora_run: TrainResult):
    comparison = load_comparison(lora_run.run_dir)
    # Prompts of different lengths, so the shorter ones are padded on the left.
    prompts = [FACTS[0][0], "Please answer: " + FACTS[1][0], FACTS[3][0]]
    tokenizer = comparison.tokenizer

    batched = generate_batch(comparison.tuned, tokenizer, prompts, SHORT)
    single = [generate(comparison.tuned, tokenizer, prompt, SHORT) for prompt in prompts]

    assert batched == single
    assert "Paris" in batched[0].text and batched[0].finish_reason == "end"
    cancelled = threading.Event()
    cancelled.set()
    answers = generate_batch(comparison.tuned, tokenizer, prompts, SHORT, cancelled)
    assert {answer.finish_reason for answer in answers} == {"cancelled"}


def test_classification_data_gives_accuracy(lora_run: TrainResult, tmp_path: Path):
    labelled = write_jsonl(
        tmp_path / "labels.jsonl",
        [
            {"text": "The invoice is overdue.", "label": "billing"},
            {"text": "The claim was approved.", "label": "claims"},
            {"text": "Please sign the consent form.", "label": "consent"},
        ],
    )
    labels_only = GenerationSettings(max_new_tokens=4)
    result = evaluate_run(lora_run.run_dir, data_file=labelled, settings=labels_only)

    assert result.data.source == "file" and result.data.records == 3
    for side in (result.base, result.tuned):
        assert side.classification is not None and side.generation is None
        assert 0.0 <= side.classification.accuracy <= 1.0
        assert side.classification.count == 3
        assert side.loss is not None and side.loss > 0
    assert [example.reference for example in result.examples] == ["billing", "claims", "consent"]


def test_plain_text_is_scored_by_loss_only(lora_run: TrainResult, tmp_path: Path):
    text_file = write_jsonl(
        tmp_path / "notes.jsonl",
        [{"text": "The invoice is due within thirty days."}, {"text": "Patients sign forms."}],
    )
    result = evaluate_run(lora_run.run_dir, data_file=text_file, settings=SHORT)

    assert result.examples == ()
    assert result.tuned.loss is not None and result.tuned.generation is None
    assert any("loss and perplexity only" in note for note in result.notes)


def test_a_finished_evaluation_is_audited(lora_run: TrainResult, tmp_path: Path, enclave_home):
    text_file = write_jsonl(tmp_path / "notes.jsonl", [{"text": "The invoice is due soon."}])

    result = evaluate_run(lora_run.run_dir, data_file=text_file, settings=SHORT)

    entries = AuditLog(enclave_home / "audit").entries()
    [entry] = [e for e in entries if e["event"] == "evaluation_finished"]
    assert entry["run"] == str(lora_run.run_dir)
    details = entry["details"]
    assert details["sha256"] == sha256_file(lora_run.run_dir / EVALUATION_FILE)
    assert details["data_source"] == "file" and details["data_files"] == [str(text_file)]
    assert details["tuned"]["loss"] == result.tuned.loss
    # The run's lineage shows the scores too.
    manifest = json.loads((lora_run.run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["evaluation"]["tuned"]["loss"] == pytest.approx(result.tuned.loss)
    assert "fine-tuned" in (lora_run.run_dir / "MODEL_CARD.md").read_text(encoding="utf-8")


def test_cancel_stops_after_the_current_batch_and_saves_nothing(
    lora_run: TrainResult, tmp_path: Path, enclave_home: Path
):
    run_dir = shutil.copytree(lora_run.run_dir, tmp_path / "run")
    (run_dir / EVALUATION_FILE).unlink(missing_ok=True)
    stop = threading.Event()

    def stop_after_first(example: ComparedExample) -> None:
        stop.set()

    result = evaluate_run(
        run_dir, settings=SHORT, batch_size=1, stop_event=stop, on_example=stop_after_first
    )

    assert result.status == "cancelled"
    assert len(result.examples) == 1 and result.data.records == 4
    assert result.tuned.loss is not None  # measured before the answers
    assert not (run_dir / EVALUATION_FILE).exists()
    entries = AuditLog(enclave_home / "audit").entries()
    assert not [e for e in entries if e["event"] == "evaluation_finished"]


def test_unusable_runs_are_refused_in_plain_words(lora_run: TrainResult, tmp_path: Path):
    with pytest.raises(UserInputError, match="not an Enclave run folder"):
        evaluate_run(tmp_path)
    with pytest.raises(UserInputError, match="at least 1"):
        evaluate_run(lora_run.run_dir, max_examples=0)
    kept_nothing = shutil.copytree(lora_run.run_dir, tmp_path / "no-held-out")
    config = load_config(kept_nothing / "config.json")
    config.data.validation_fraction = 0.0
    save_config(config, kept_nothing / "config.json")
    with pytest.raises(UserInputError, match="kept no records back"):
        evaluate_run(kept_nothing)


def test_changed_training_data_is_refused(lora_run: TrainResult, tmp_path: Path):
    run_dir = shutil.copytree(lora_run.run_dir, tmp_path / "run")
    config = load_config(run_dir / "config.json")
    moved = Path(shutil.copy(config.data.train, tmp_path / "facts.jsonl"))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    files = manifest["data_files"]
    files[str(moved.resolve())] = files.pop(str(Path(config.data.train).resolve()))
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    config.data.train = str(moved)
    save_config(config, run_dir / "config.json")
    with moved.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"instruction": "New?", "input": "", "output": "Yes."}) + "\n")

    with pytest.raises(UserInputError, match="has changed since this run was trained"):
        evaluate_run(run_dir)


def test_a_chosen_file_with_training_records_is_flagged(lora_run: TrainResult, tmp_path: Path):
    training_file = load_config(Path(lora_run.run_dir) / "config.json").data.train
    fresh = write_jsonl(
        tmp_path / "fresh.jsonl",
        [{"instruction": "Who signs the invoice?", "input": "", "output": "The clerk."}],
    )

    reused = evaluate_run(lora_run.run_dir, data_file=training_file, max_examples=1, settings=SHORT)
    new = evaluate_run(lora_run.run_dir, data_file=fresh, settings=SHORT)

    # 12 of the 16 records were trained on; the other 4 were kept for validation.
    assert any("12 of the 16 records were in the training data" in n for n in reused.notes)
    assert not any("training data" in note for note in new.notes)
