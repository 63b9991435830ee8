"""End-to-end training on a tiny Llama model with the real transformers, peft and
bitsandbytes. Nothing here is mocked."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import bitsandbytes as bnb
import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

from desktop_app.core.config import RunConfig
from desktop_app.core.errors import UserInputError
from desktop_app.core.events import (
    CheckpointSaved,
    EvalMetrics,
    ListReporter,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
    StepMetrics,
)
from desktop_app.core.hashing import sha256_file
from desktop_app.engine.builders import quantization_config
from desktop_app.engine.loading import keep_4bit_training_layout, load_for_training
from desktop_app.engine.train import run_training


def _losses(reporter: ListReporter) -> dict[int, float]:
    return {event.step: event.loss for event in reporter.of_type(StepMetrics)}


def _sample_batch(tokenizer) -> dict[str, torch.Tensor]:
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, return_tensors="pt", add_special_tokens=False)


def test_qlora_run_trains_adapters_on_4bit_base(tiny_config: RunConfig, tiny_model_dir: Path):
    tiny_config.method.name = "qlora"
    reporter = ListReporter()

    result = run_training(tiny_config, reporter, keep_model=True)

    assert result.status == "finished", result.message
    model = result.model
    base = model.get_base_model()
    adapted = [m for m in base.modules() if hasattr(m, "lora_A") and hasattr(m, "base_layer")]
    assert adapted and all(isinstance(m.base_layer, bnb.nn.Linear4bit) for m in adapted)
    q_proj = base.model.layers[0].self_attn.q_proj
    assert isinstance(q_proj.base_layer, bnb.nn.Linear4bit)
    assert q_proj.base_layer.weight.__class__.__name__ == "Params4bit"

    # LoRA B matrices start at exactly zero; training must have moved every one of them.
    lora_b = {n: p for n, p in model.named_parameters() if "lora_B" in n}
    assert lora_b and all(not torch.equal(p, torch.zeros_like(p)) for p in lora_b.values())

    # The frozen 4-bit base is bit-for-bit what a fresh 4-bit load gives.
    fresh = AutoModelForCausalLM.from_pretrained(
        str(tiny_model_dir),
        quantization_config=quantization_config("qlora", tiny_config.method, torch.float32, "cpu"),
        device_map={"": "cpu"},
        dtype=torch.float32,
    )
    # Same kernels on both sides: without this, bitsandbytes repacks the fresh model's
    # weights for bf16 CPU inference and the logits differ by rounding.
    keep_4bit_training_layout(fresh)
    fresh_q = fresh.model.layers[0].self_attn.q_proj.weight
    assert torch.equal(q_proj.base_layer.weight.data, fresh_q.data)
    assert torch.equal(q_proj.base_layer.weight.quant_state.absmax, fresh_q.quant_state.absmax)

    # Loss falls on a memorisable set.
    losses = list(_losses(reporter).values())
    assert losses[-1] < 0.6 * losses[0], losses

    # The saved adapter loads with stock PEFT onto a fresh 4-bit base, same logits.
    assert (result.output_path / "adapter_model.safetensors").is_file()
    reloaded = PeftModel.from_pretrained(fresh, str(result.output_path))
    model.eval()
    reloaded.eval()
    batch = _sample_batch(AutoTokenizer.from_pretrained(str(result.output_path)))
    with torch.no_grad():
        expected = model(**batch).logits
        actual = reloaded(**batch).logits
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)

    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["quantization"] == {"bits": 4, "quant_type": "nf4", "double_quantization": True}
    assert manifest["status"] == "finished"


def test_lora_changes_adapters_and_leaves_base_weights(
    tiny_config: RunConfig, tiny_model_dir: Path
):
    result = run_training(tiny_config, ListReporter(), keep_model=True)
    assert result.status == "finished", result.message

    original = load_file(str(tiny_model_dir / "model.safetensors"))
    trained = {
        name.replace("base_model.model.", "").replace(".base_layer", ""): param
        for name, param in result.model.named_parameters()
        if "lora_" not in name
    }
    for name, value in original.items():
        assert torch.equal(trained[name], value), f"base weight {name} changed"

    set_seed(tiny_config.hyperparameters.seed)
    initial = load_for_training(
        tiny_model_dir, "lora", tiny_config.method, "cpu", torch.float32, False
    ).model
    initial_lora = {n: p for n, p in initial.named_parameters() if "lora_" in n}
    for name, param in result.model.named_parameters():
        if "lora_" in name:
            assert not torch.equal(param, initial_lora[name]), f"{name} did not move"


def test_run_folder_holds_config_metrics_checkpoints_adapter_manifest(
    tiny_config: RunConfig, tiny_model_dir: Path
):
    reporter = ListReporter()
    result = run_training(tiny_config, reporter)
    run_dir = result.run_dir
    assert {p.name for p in run_dir.iterdir()} >= {
        "config.json",
        "metrics.jsonl",
        "manifest.json",
        "checkpoints",
        "adapter",
    }
    assert not (run_dir / ".staging").exists()

    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    kinds = [line["event"] for line in lines]
    assert kinds.count("StepMetrics") == 12
    assert kinds[-1] == "RunFinished" and "RunStarted" in kinds

    started = reporter.of_type(RunStarted)[0]
    assert 0 < started.trainable_parameters < started.total_parameters
    assert started.train_records == 12 and started.validation_records == 4

    evals = reporter.of_type(EvalMetrics)
    assert [e.step for e in evals] == [6, 12]  # the final step's is not repeated
    saved = [e.step for e in reporter.of_type(CheckpointSaved)]
    assert saved == [4, 8, 12]
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "checkpoint-12",
        "checkpoint-4",
        "checkpoint-8",
    ]

    manifest = json.loads((run_dir / "manifest.json").read_text())
    data_hash = manifest["data_files"][str(Path(tiny_config.data.train).resolve())]["sha256"]
    assert data_hash == sha256_file(tiny_config.data.train)
    weights = manifest["model"]["weights"]
    assert list(weights.values())[0]["sha256"] == sha256_file(tiny_model_dir / "model.safetensors")
    assert manifest["libraries"]["torch"].split("+")[0] == torch.__version__.split("+")[0]
    assert manifest["seed"] == 42 and manifest["started_at"] and manifest["finished_at"]
    assert manifest["final_metrics"]["eval_loss"] == pytest.approx(evals[-1].eval_loss)
    assert any(name.endswith("adapter_model.safetensors") for name in manifest["outputs"])


def test_same_seed_same_losses(tiny_config: RunConfig):
    tiny_config.hyperparameters.max_steps = 5
    first, second = ListReporter(), ListReporter()
    assert run_training(tiny_config, first).status == "finished"
    assert run_training(tiny_config, second).status == "finished"
    assert list(_losses(first)) == [1, 2, 3, 4, 5]
    assert _losses(first) == _losses(second)


class _CancelAt:
    def __init__(self, step: int, stop: threading.Event) -> None:
        self.inner, self.step, self.stop = ListReporter(), step, stop

    def report(self, event) -> None:
        self.inner.report(event)
        if isinstance(event, StepMetrics) and event.step == self.step:
            self.stop.set()


def test_cancel_then_resume_matches_uninterrupted_run(tiny_config: RunConfig):
    tiny_config.hyperparameters.save_every_steps = 0  # only the cancel checkpoint
    uninterrupted = ListReporter()
    run_training(tiny_config, uninterrupted)

    stop = threading.Event()
    cancelling = _CancelAt(5, stop)
    cancelled = run_training(tiny_config, cancelling, stop)
    assert cancelled.status == "cancelled"
    event = cancelling.inner.of_type(RunCancelled)[0]
    assert event.step == 5 and event.checkpoint.endswith("checkpoint-5")
    assert not (cancelled.run_dir / "adapter").exists()

    resumed_reporter = ListReporter()
    resumed = run_training(RunConfig(), resumed_reporter, resume_dir=cancelled.run_dir)
    assert resumed.status == "finished", resumed.message
    assert resumed_reporter.of_type(RunStarted)[0].resumed_from_step == 5
    resumed_losses = _losses(resumed_reporter)
    assert min(resumed_losses) == 6
    expected = _losses(uninterrupted)
    for step, loss in resumed_losses.items():
        assert loss == pytest.approx(expected[step], rel=1e-5), step
    assert resumed.metrics["eval_loss"] == pytest.approx(run_metrics_eval(uninterrupted), rel=1e-5)


def run_metrics_eval(reporter: ListReporter) -> float:
    return reporter.of_type(RunFinished)[0].metrics["eval_loss"]


def test_non_finite_loss_stops_with_clear_message(
    tiny_config: RunConfig, tiny_model_dir: Path, tmp_path: Path
):
    import shutil

    from safetensors.torch import save_file

    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_model_dir, broken)
    weights = load_file(str(broken / "model.safetensors"))
    weights["model.norm.weight"] = torch.full_like(weights["model.norm.weight"], float("nan"))
    save_file(weights, str(broken / "model.safetensors"), metadata={"format": "pt"})
    tiny_config.model.path = str(broken)
    reporter = ListReporter()

    result = run_training(tiny_config, reporter)

    assert result.status == "failed"
    assert "loss became nan at step 1" in result.message
    assert "learning_rate" in result.message
    assert reporter.of_type(RunFailed)[0].message == result.message
    assert not (result.run_dir / "adapter").exists()


@pytest.mark.parametrize("method", ["full", "freeze"])
def test_full_and_freeze_train_the_right_weights(
    method: str, tiny_config: RunConfig, tiny_model_dir: Path
):
    tiny_config.method.name = method
    tiny_config.method.freeze_trainable_layers = 1
    tiny_config.hyperparameters.learning_rate = 1e-3
    tiny_config.hyperparameters.max_steps = 3
    result = run_training(tiny_config, ListReporter(), keep_model=True)
    assert result.status == "finished", result.message
    assert (result.run_dir / "model" / "model.safetensors").is_file()

    original = load_file(str(tiny_model_dir / "model.safetensors"))
    trained = dict(result.model.named_parameters())
    changed = {name for name, value in original.items() if not torch.equal(trained[name], value)}
    if method == "full":
        assert changed == set(original)
    else:
        assert changed, "nothing was trained"
        assert all(n.startswith(("model.layers.1.", "lm_head", "model.norm")) for n in changed)
        assert any(n.startswith("model.layers.1.") for n in changed)
        assert "lm_head.weight" in changed


def test_final_validation_when_the_last_step_is_not_an_eval_step(tiny_config: RunConfig):
    tiny_config.hyperparameters.max_steps = 8
    reporter = ListReporter()
    result = run_training(tiny_config, reporter)
    assert [e.step for e in reporter.of_type(EvalMetrics)] == [6, 8]
    assert result.metrics["eval_loss"] == reporter.of_type(EvalMetrics)[-1].eval_loss


@pytest.mark.slow
def test_demo_model_converts_and_trains_a_few_lora_steps(tmp_path: Path):
    """The built-in SmolLM2 GGUF goes through conversion, loading and real LoRA steps."""
    sample = Path(__file__).parents[2] / "resources" / "sample_data" / "insurance_qa.jsonl"
    config = RunConfig()  # model.path defaults to the built-in demo model
    config.data.train = str(sample)
    config.method.name = "lora"
    config.hyperparameters.max_steps = 3
    config.hyperparameters.batch_size = 2
    config.hyperparameters.max_length = 128
    config.hyperparameters.eval_every_steps = 0
    config.hyperparameters.save_every_steps = 0
    config.output.dir = str(tmp_path / "runs")
    reporter = ListReporter()

    result = run_training(config, reporter)

    assert result.status == "finished", result.message
    started = reporter.of_type(RunStarted)[0]
    assert 130e6 < started.total_parameters < 140e6
    losses = [e.loss for e in reporter.of_type(StepMetrics)]
    assert len(losses) == 3 and all(0 < loss < 10 for loss in losses)
    assert (result.output_path / "adapter_model.safetensors").is_file()
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["model"]["source"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")


def test_resume_is_refused_for_finished_runs_and_changed_data(tiny_config: RunConfig):
    tiny_config.hyperparameters.max_steps = 4
    finished = run_training(tiny_config, ListReporter())
    with pytest.raises(UserInputError) as caught:
        run_training(RunConfig(), ListReporter(), resume_dir=finished.run_dir)
    assert "already finished" in caught.value.user_message()

    stop = threading.Event()
    cancelled = run_training(tiny_config, _CancelAt(2, stop), stop)
    assert cancelled.status == "cancelled"
    data = Path(tiny_config.data.train)
    data.write_text(data.read_text().replace("Paris", "Lyon"))
    with pytest.raises(UserInputError) as caught:
        run_training(RunConfig(), ListReporter(), resume_dir=cancelled.run_dir)
    assert "has changed since this run started" in caught.value.user_message()


def test_cancel_before_training_starts_leaves_nothing_to_resume(tiny_config: RunConfig):
    stop = threading.Event()
    stop.set()
    reporter = ListReporter()
    result = run_training(tiny_config, reporter, stop)
    assert result.status == "cancelled"
    assert len(reporter.of_type(RunCancelled)) == 1
    assert reporter.of_type(RunCancelled)[0].checkpoint is None
    assert json.loads((result.run_dir / "manifest.json").read_text())["status"] == "cancelled"
    assert not reporter.of_type(StepMetrics)
    with pytest.raises(UserInputError, match="no checkpoint"):
        run_training(RunConfig(), ListReporter(), resume_dir=result.run_dir)


def test_unusable_data_found_during_training_is_reported_as_bad_input(tiny_config: RunConfig):
    tiny_config.hyperparameters.max_length = 8  # no answer survives the cut
    reporter = ListReporter()
    result = run_training(tiny_config, reporter)
    assert result.status == "invalid_input"
    assert "Raise hyperparameters.max_length" in result.message
    assert reporter.of_type(RunFailed)[0].message == result.message
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["started_at"]


def test_log_every_steps_thins_reports_but_every_step_is_checked(tiny_config: RunConfig):
    tiny_config.hyperparameters.log_every_steps = 5
    reporter = ListReporter()
    run_training(tiny_config, reporter)
    assert list(_losses(reporter)) == [5, 10, 12]
