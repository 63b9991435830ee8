"""Answers from a finished run's base and fine-tuned models, on the tiny model trained
for real with transformers and peft. Nothing here is mocked."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
import torch
from tiny_runs import memorising_config
from transformers import AutoModelForCausalLM

from desktop_app.core.config import RunConfig
from desktop_app.core.errors import ConfigError, UserInputError
from desktop_app.core.events import ListReporter
from desktop_app.data.records import Message, TrainingRecord
from desktop_app.engine.finished_run import FinishedRun, latest_finished_run, open_finished_run
from desktop_app.engine.generation import (
    Comparison,
    GenerationSettings,
    generate,
    load_comparison,
    render_prompt,
)
from desktop_app.engine.loading import load_tokenizer
from desktop_app.engine.sft_data import render_record
from desktop_app.engine.train import TrainResult, run_training

QUESTION = "What is the capital of France?"
ANSWER = "The capital of France is Paris."
SHORT = GenerationSettings(max_new_tokens=24)


def _memorising_config(model_dir: Path, folder: Path, method: str) -> RunConfig:
    """Four facts asked four ways, learned at a high rate until the model repeats them."""
    return memorising_config(
        model_dir,
        folder,
        method=method,
        max_steps=20,
        learning_rate=2e-2 if method in ("lora", "qlora") else 2e-3,
    )


def _train(model_dir: Path, folder: Path, method: str) -> TrainResult:
    result = run_training(_memorising_config(model_dir, folder, method), ListReporter())
    assert result.status == "finished", result.message
    return result


@pytest.fixture(scope="module")
def lora_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    return _train(tiny_model_dir, tmp_path_factory.mktemp("lora-run"), "lora")


@pytest.fixture(scope="module")
def comparison(lora_run: TrainResult) -> Comparison:
    return load_comparison(lora_run.run_dir)


def _plain_base(model_dir: Path) -> torch.nn.Module:
    return AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()


class _SetAfter(threading.Event):
    """An event that sets itself on its ``calls``-th check, i.e. mid-generation."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.remaining = calls

    def is_set(self) -> bool:
        self.remaining -= 1
        if self.remaining <= 0:
            self.set()
        return super().is_set()


# --- the run folder ---------------------------------------------------------------------


def test_finished_run_reads_what_training_recorded(lora_run: TrainResult):
    run = open_finished_run(lora_run.run_dir)

    assert run.method == "lora"
    assert run.output_path == lora_run.output_path
    assert run.metrics == lora_run.metrics
    assert run.metrics["steps"] == 20 and "eval_loss" in run.metrics
    assert run.train_records == 12 and run.validation_records == 4
    assert run.duration_seconds is not None and run.duration_seconds >= 0
    assert run.prompt_style == "chat"
    assert open_finished_run(lora_run.output_path).run_dir == lora_run.run_dir


def _copy_run(source: Path, target: Path, **manifest_changes: object) -> Path:
    shutil.copytree(source, target)
    manifest_path = target / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest.update(manifest_changes)
    manifest_path.write_text(json.dumps(manifest))
    return target


def test_latest_finished_run_skips_unfinished_and_broken_runs(lora_run: TrainResult, tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    assert latest_finished_run(root) is None
    assert latest_finished_run(tmp_path / "absent") is None
    _copy_run(lora_run.run_dir, root / "older", finished_at="2030-01-01T00:00:00+00:00")
    _copy_run(lora_run.run_dir, root / "newer", finished_at="2030-01-02T00:00:00+00:00")
    _copy_run(
        lora_run.run_dir, root / "cancelled", status="cancelled", finished_at="2030-01-03T00:00"
    )
    broken = _copy_run(lora_run.run_dir, root / "no-adapter", finished_at="2030-01-04T00:00")
    shutil.rmtree(broken / "adapter")
    (root / "not-a-run").mkdir()

    latest = latest_finished_run(root)

    assert latest is not None and latest.run_dir == root / "newer"


def test_unusable_run_folders_are_refused_in_plain_words(lora_run: TrainResult, tmp_path):
    with pytest.raises(UserInputError, match="not an Enclave run folder"):
        open_finished_run(tmp_path)
    cancelled = _copy_run(lora_run.run_dir, tmp_path / "cancelled", status="cancelled")
    with pytest.raises(UserInputError, match="did not finish"):
        open_finished_run(cancelled)
    no_adapter = _copy_run(lora_run.run_dir, tmp_path / "no-adapter")
    (no_adapter / "adapter" / "adapter_model.safetensors").unlink()
    with pytest.raises(UserInputError, match="trained model .* is missing"):
        open_finished_run(no_adapter)


def test_a_missing_base_model_is_refused(lora_run: TrainResult, tmp_path):
    moved = _copy_run(lora_run.run_dir, tmp_path / "run")
    manifest = json.loads((moved / "manifest.json").read_text())
    manifest["model"]["path"] = str(tmp_path / "gone")
    (moved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserInputError, match="Model not found"):
        load_comparison(moved)


# --- answers ----------------------------------------------------------------------------


def test_prompt_is_laid_out_as_training_laid_out_the_example(comparison: Comparison):
    tokenizer = comparison.tokenizer
    record = TrainingRecord(
        "facts.jsonl", 1, (Message("user", QUESTION), Message("assistant", ANSWER))
    )
    trained = render_record(record, tokenizer, train_on_prompt=False)
    prompt = render_prompt(tokenizer, QUESTION)

    assert trained.text.startswith(prompt)
    assert trained.trained_spans[0][0] == len(prompt)  # the answer starts where we stop
    assert render_prompt(tokenizer, "Once upon", "plain") == "Once upon"


def test_both_models_answer_and_greedy_answers_repeat(comparison: Comparison):
    base = comparison.answer("base", QUESTION, SHORT)
    tuned = comparison.answer("tuned", QUESTION, SHORT)

    assert isinstance(base.text, str) and isinstance(tuned.text, str)
    assert base.text and tuned.text
    assert comparison.answer("base", QUESTION, SHORT) == base
    assert comparison.answer("tuned", QUESTION, SHORT) == tuned
    # The tuned model learned the fact and ends its answer; the untrained base did not.
    assert tuned.text != base.text
    assert "Paris" in tuned.text and tuned.finish_reason == "end"
    assert "Paris" not in base.text
    assert QUESTION not in tuned.text  # only the new text, never the prompt


def test_a_fresh_load_gives_the_same_answers(comparison: Comparison, lora_run: TrainResult):
    again = load_comparison(lora_run.run_dir)
    for side in ("base", "tuned"):
        assert again.answer(side, QUESTION, SHORT) == comparison.answer(side, QUESTION, SHORT)


def test_base_answer_is_the_plain_base_models_answer(comparison: Comparison, tiny_model_dir: Path):
    plain = generate(_plain_base(tiny_model_dir), comparison.tokenizer, QUESTION, SHORT)

    assert comparison.answer("base", QUESTION, SHORT) == plain
    # The adapter is switched on again afterwards.
    assert "Paris" in comparison.answer("tuned", QUESTION, SHORT).text


def test_cancel_stops_generation_early(comparison: Comparison):
    long = GenerationSettings(max_new_tokens=60)
    uncancelled = comparison.answer("base", QUESTION, long)
    assert uncancelled.new_tokens == 60 and uncancelled.finish_reason == "length"

    stopped = comparison.answer("base", QUESTION, long, _SetAfter(calls=5))

    assert stopped.finish_reason == "cancelled"
    assert 0 < stopped.new_tokens < 10
    already = threading.Event()
    already.set()
    assert comparison.answer("tuned", QUESTION, long, already).new_tokens == 0


def test_sampling_repeats_with_the_same_seed(comparison: Comparison):
    def sampled(seed: int) -> str:
        settings = GenerationSettings(max_new_tokens=20, sample=True, temperature=1.5, seed=seed)
        return comparison.answer("base", QUESTION, settings).text

    assert sampled(1) == sampled(1)
    assert sampled(1) != sampled(2)


@pytest.mark.parametrize(
    ("field", "value"), [("max_new_tokens", 0), ("temperature", 0.0), ("top_p", 1.5)]
)
def test_settings_refuse_values_out_of_range(field: str, value: float):
    with pytest.raises(ConfigError, match=field):
        GenerationSettings(**{field: value})


# --- other methods ----------------------------------------------------------------------


@pytest.mark.slow
def test_full_run_loads_base_and_tuned_separately(tiny_model_dir: Path, tmp_path: Path):
    result = _train(tiny_model_dir, tmp_path, "full")
    comparison = load_comparison(result.run_dir)
    assert isinstance(comparison.run, FinishedRun) and comparison.separate_base is not None
    tokenizer, _ = load_tokenizer(result.output_path)

    base = comparison.answer("base", QUESTION, SHORT)
    tuned = comparison.answer("tuned", QUESTION, SHORT)

    assert base == generate(_plain_base(tiny_model_dir), tokenizer, QUESTION, SHORT)
    assert tuned != base
    assert "Paris" in tuned.text


@pytest.mark.slow
def test_qlora_run_answers_from_a_4bit_base(tiny_model_dir: Path, tmp_path: Path):
    result = _train(tiny_model_dir, tmp_path, "qlora")
    comparison = load_comparison(result.run_dir)
    base_layer = comparison.tuned.get_base_model().model.layers[0].self_attn.q_proj.base_layer
    assert base_layer.weight.__class__.__name__ == "Params4bit"

    base = comparison.answer("base", QUESTION, SHORT)
    tuned = comparison.answer("tuned", QUESTION, SHORT)

    assert tuned != base
    assert comparison.answer("tuned", QUESTION, SHORT) == tuned


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("method", ["qlora", "lora"])
def test_answers_on_the_gpu(method: str, tiny_model_dir: Path, tmp_path: Path):
    result = _train(tiny_model_dir, tmp_path, method)
    comparison = load_comparison(result.run_dir, device="cuda")
    assert next(comparison.tuned.parameters()).device.type == "cuda"

    base = comparison.answer("base", QUESTION, SHORT)
    tuned = comparison.answer("tuned", QUESTION, SHORT)

    assert tuned != base
    assert comparison.answer("tuned", QUESTION, SHORT) == tuned
