"""``enclave evaluate`` as a user runs it: a real run trained on the tiny model, a real
subprocess for the JSON output, real exit codes."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_runs import write_jsonl

from desktop_app.cli import run_cli
from desktop_app.core.config import RunConfig
from desktop_app.core.events import ListReporter
from desktop_app.engine.train import TrainResult, run_training

FACTS = [
    ("What is the capital of France?", "The capital of France is Paris."),
    ("Who approves the claim?", "The underwriting team approves the claim."),
]


@pytest.fixture(scope="module")
def finished_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    folder = tmp_path_factory.mktemp("cli-evaluate")
    openings = ["", "Tell me: ", "Question: ", "Please answer: "]
    records = [
        {"instruction": opening + question, "input": "", "output": answer}
        for opening in openings
        for question, answer in FACTS
    ]
    config = RunConfig()
    config.model.path = str(tiny_model_dir)
    config.data.train = str(write_jsonl(folder / "facts.jsonl", records))
    config.data.validation_fraction = 0.25
    config.method.name = "lora"
    hyper = config.hyperparameters
    hyper.max_steps = 4
    hyper.batch_size = 4
    hyper.learning_rate = 1e-2
    hyper.max_length = 64
    hyper.eval_every_steps = 0
    hyper.save_every_steps = 0
    config.output.dir = str(folder / "runs")
    result = run_training(config, ListReporter())
    assert result.status == "finished", result.message
    return result


def test_json_output_is_one_object_with_base_and_tuned(finished_run: TrainResult, tmp_path: Path):
    labelled = write_jsonl(
        tmp_path / "labels.jsonl",
        [
            {"text": "The invoice is overdue.", "label": "billing"},
            {"text": "The claim was approved.", "label": "claims"},
        ],
    )
    completed = subprocess.run(
        [sys.executable, "-m", "desktop_app", "evaluate", str(finished_run.run_dir)]
        + ["--data", str(labelled), "--json", "--max-new-tokens", "4"],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )

    assert completed.returncode == 0, completed.stderr
    payload = json.loads(completed.stdout)  # nothing but the one object on stdout
    for side in ("base", "tuned"):
        assert payload[side]["loss"] > 0
        assert payload[side]["perplexity"] > 1
        classification = payload[side]["classification"]
        assert 0.0 <= classification["accuracy"] <= 1.0 and classification["count"] == 2
        assert "generation" not in payload[side]
    assert payload["data"]["source"] == "file" and payload["data"]["records"] == 2
    assert [example["reference"] for example in payload["examples"]] == ["billing", "claims"]
    assert "Loading the base and fine-tuned models" in completed.stderr  # progress on stderr
    saved = json.loads((finished_run.run_dir / "evaluation.json").read_text(encoding="utf-8"))
    assert saved["tuned"] == payload["tuned"]
    if importlib.util.find_spec("desktop_app.ui.report") is not None:
        assert Path(payload["report"]["pdf"]).stat().st_size > 0
        assert Path(payload["report"]["html"]).is_file()


def test_summary_table_compares_base_and_tuned(
    finished_run: TrainResult, capsys: pytest.CaptureFixture[str]
):
    handler = signal.getsignal(signal.SIGINT)
    try:
        code = run_cli(
            ["evaluate", str(finished_run.run_dir), "--max-examples", "1", "--max-new-tokens", "4"]
        )
    finally:
        signal.signal(signal.SIGINT, handler)
    output = capsys.readouterr().out

    assert code == 0
    assert "Base model" in output and "Fine-tuned" in output
    assert "2 validation records" in output and "1 answered" in output
    saved = json.loads((finished_run.run_dir / "evaluation.json").read_text(encoding="utf-8"))
    loss_row = next(line for line in output.splitlines() if line.startswith("Loss"))
    assert f"{saved['base']['loss']:,.4f}" in loss_row
    assert f"{saved['tuned']['loss']:,.4f}" in loss_row
    assert "Word overlap (token F1)" in output


def test_a_folder_that_is_not_a_run_exits_2_in_plain_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    assert run_cli(["evaluate", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "not an Enclave run folder" in error and "Traceback" not in error
    assert run_cli(["evaluate", str(tmp_path), "--max-examples", "0"]) == 2
