"""The enclave command as a user runs it: a real subprocess, real exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop_app.core.config import RunConfig
from desktop_app.core.config_io import save_config


def enclave(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )


def test_no_arguments_opens_the_app(enclave_home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setenv("ENCLAVE_EXIT_AFTER_START_MS", "500")
    completed = enclave(timeout=120)
    assert completed.returncode == 0, completed.stderr
    # Closing the window autosaved the (empty) project into the workspace.
    assert (enclave_home / "autosave.enclave.json").is_file()


def test_bad_config_exits_2_naming_the_field(tmp_path: Path):
    config = tmp_path / "run.json"
    config.write_text(
        json.dumps({"data": {"train": "x.jsonl"}, "hyperparameters": {"learning_rate": -1}})
    )
    completed = enclave("train", str(config))
    assert completed.returncode == 2
    assert "hyperparameters.learning_rate" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_unknown_field_exits_2_with_suggestion(tmp_path: Path):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"method": {"lora_rank": 8}}))
    completed = enclave("train", str(config))
    assert completed.returncode == 2
    assert "method.lora_rank" in completed.stderr and "lora_r" in completed.stderr


def test_missing_data_file_exits_2(tmp_path: Path, tiny_model_dir: Path):
    config = RunConfig()
    config.model.path = str(tiny_model_dir)
    config.data.train = str(tmp_path / "missing.jsonl")
    save_config(config, tmp_path / "run.json")
    completed = enclave("train", str(tmp_path / "run.json"))
    assert completed.returncode == 2, completed.stderr
    assert "missing.jsonl" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_hub_id_is_refused(tmp_path: Path):
    (tmp_path / "train.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    (tmp_path / "run.json").write_text(
        json.dumps({"model": {"path": "meta-llama/Llama-3.1-8B"}, "data": {"train": "train.jsonl"}})
    )
    completed = enclave("train", str(tmp_path / "run.json"))
    assert completed.returncode == 2
    assert "never downloads" in completed.stderr
    assert not (tmp_path / "runs").exists()


def test_hardware_reports_cpu_ram_and_disk():
    completed = enclave("hardware", "--json")
    assert completed.returncode == 0, completed.stderr
    info = json.loads(completed.stdout)
    assert info["cpu_cores_logical"] >= 1 and info["ram_total_bytes"] > 0
    assert info["disk_free_bytes"] > 0
    assert "CPU" in enclave("hardware").stdout


def test_model_inspect_tiny_model(tiny_model_dir: Path):
    completed = enclave("model", "inspect", str(tiny_model_dir), "--json")
    assert completed.returncode == 0, completed.stderr
    facts = json.loads(completed.stdout)
    assert facts["context_length"] == 512
    assert facts["has_chat_template"] is True


def test_train_then_ctrl_c_cancels_with_checkpoint(tmp_path: Path, tiny_model_dir: Path):
    records = [{"prompt": f"Question {i}?", "completion": f"Answer {i}."} for i in range(32)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    config = RunConfig()
    config.model.path = str(tiny_model_dir)
    config.data.train = str(tmp_path / "train.jsonl")
    config.method.name = "lora"
    config.hyperparameters.max_steps = 3000
    config.hyperparameters.max_length = 32
    config.output.dir = str(tmp_path / "runs")
    config.output.run_name = "cli-run"
    save_config(config, tmp_path / "run.json")

    process = subprocess.Popen(
        [sys.executable, "-m", "desktop_app", "train", str(tmp_path / "run.json")],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    metrics = tmp_path / "runs" / "cli-run" / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if metrics.exists() and '"StepMetrics"' in metrics.read_text():
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=240)

    assert process.returncode == 3, stderr
    assert "enclave train --resume" in stderr
    assert list((tmp_path / "runs" / "cli-run" / "checkpoints").glob("checkpoint-*"))


@pytest.mark.parametrize("args", [["train"], ["train", "a.json", "--resume", "b"]])
def test_train_needs_exactly_one_of_config_or_resume(args: list[str]):
    completed = enclave(*args)
    assert completed.returncode == 2
    assert "Give either a run configuration file or --resume" in completed.stderr


def _tiny_run_config(tmp_path: Path, tiny_model_dir: Path, steps: int = 6) -> RunConfig:
    records = [{"prompt": f"Question {i}?", "completion": f"Answer {i}."} for i in range(12)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    config = RunConfig()
    config.model.path = str(tiny_model_dir)
    config.data.train = str(tmp_path / "train.jsonl")
    config.method.name = "lora"
    config.hyperparameters.max_steps = steps
    config.hyperparameters.max_length = 32
    config.output.dir = str(tmp_path / "runs")
    return config


def test_resume_from_the_command_line_finishes_the_run(tmp_path: Path, tiny_model_dir: Path):
    import threading

    from desktop_app.core.events import ListReporter, StepMetrics
    from desktop_app.engine.train import run_training

    stop = threading.Event()

    class StopAtTwo(ListReporter):
        def report(self, event) -> None:
            if isinstance(event, StepMetrics) and event.step == 2:
                stop.set()

    cancelled = run_training(_tiny_run_config(tmp_path, tiny_model_dir), StopAtTwo(), stop)
    assert cancelled.status == "cancelled"

    completed = enclave("train", "--resume", str(cancelled.run_dir))
    assert completed.returncode == 0, completed.stderr
    assert "Done. Saved to" in completed.stderr
    manifest = json.loads((cancelled.run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished" and len(manifest["resumed_at"]) == 1
    assert (cancelled.run_dir / "adapter" / "adapter_model.safetensors").is_file()


def test_training_failure_exits_1_with_a_plain_message(tmp_path: Path, tiny_model_dir: Path):
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    weights = load_file(str(broken / "model.safetensors"))
    weights["model.norm.weight"] = torch.full_like(weights["model.norm.weight"], float("inf"))
    save_file(weights, str(broken / "model.safetensors"), metadata={"format": "pt"})
    config = _tiny_run_config(tmp_path, tiny_model_dir)
    config.model.path = str(broken)
    save_config(config, tmp_path / "run.json")

    completed = enclave("train", str(tmp_path / "run.json"))
    assert completed.returncode == 1, completed.stderr
    assert "Training failed: The training loss became nan at step 1" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_output_dir_that_is_a_file_exits_2_naming_the_field(tmp_path: Path, tiny_model_dir: Path):
    config = _tiny_run_config(tmp_path, tiny_model_dir)
    (tmp_path / "not-a-folder").write_text("")
    config.output.dir = str(tmp_path / "not-a-folder")
    save_config(config, tmp_path / "run.json")
    completed = enclave("train", str(tmp_path / "run.json"))
    assert completed.returncode == 2, completed.stderr
    assert "output.dir" in completed.stderr
    assert "Traceback" not in completed.stderr
