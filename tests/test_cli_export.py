"""``enclave export`` as a user runs it: a real run trained on the tiny model, the CLI's
own error handling and exit codes."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app import cli
from desktop_app.cli import run_cli
from desktop_app.cli_export import add_export_command
from desktop_app.core.audit import AuditLog
from desktop_app.core.config import RunConfig
from desktop_app.core.events import ListReporter
from desktop_app.core.hashing import sha256_file
from desktop_app.engine.train import run_training


@pytest.fixture(autouse=True)
def export_command_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The real ``enclave`` parser, with ``export`` added if cli.py does not add it yet."""
    build = cli.build_parser

    def build_with_export() -> argparse.ArgumentParser:
        parser = build()
        commands = next(
            action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
        )
        if "export" not in commands.choices:
            add_export_command(commands)
        return parser

    monkeypatch.setattr(cli, "build_parser", build_with_export)
    yield


@pytest.fixture(scope="module")
def run_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("cli-export")
    records = [
        {"instruction": f"What is item {index}?", "input": "", "output": f"Item {index} is a box."}
        for index in range(8)
    ]
    data = folder / "items.jsonl"
    data.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    config = RunConfig()
    config.model.path = str(tiny_model_dir)
    config.data.train = str(data)
    config.data.validation_fraction = 0.25
    config.method.name = "lora"
    hyper = config.hyperparameters
    hyper.max_steps = 2
    hyper.batch_size = 4
    hyper.max_length = 64
    hyper.eval_every_steps = 0
    hyper.save_every_steps = 0
    config.output.dir = str(folder / "runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ENCLAVE_HOME", str(folder / "home"))
        result = run_training(config, ListReporter())
    assert result.status == "finished" and result.run_dir is not None, result.message
    yield result.run_dir


def test_export_prints_what_was_written_and_its_hashes(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    destination = tmp_path / "export"

    code = run_cli(["export", str(run_dir), str(destination)])

    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"to {destination}" in captured.out and "the adapter" in captured.out
    weights = sha256_file(destination / "adapter_model.safetensors")
    row = next(line for line in captured.out.splitlines() if line.startswith("adapter_model"))
    assert row.endswith(weights)
    assert sha256_file(destination / "MODEL_CARD.md") in captured.out
    assert AuditLog().entries()[-1]["hash"] in captured.out
    assert "Copying the trained adapter" in captured.err  # progress on stderr


def test_merge_and_json_output(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    destination = tmp_path / "merged"

    code = run_cli(["export", str(run_dir), str(destination), "--merge", "--json"])

    captured = capsys.readouterr()
    assert code == 0, captured.err
    payload = json.loads(captured.out)  # nothing but the one object on stdout
    assert payload["kind"] == "merged" and payload["merged"] is True
    assert payload["destination"] == str(destination.resolve())
    assert payload["run"] == str(run_dir.resolve())
    assert payload["artifacts"]["model.safetensors"]["sha256"] == sha256_file(
        destination / "model.safetensors"
    )
    assert "Merging the adapter" in captured.err


def test_a_destination_with_files_exits_2_in_plain_words(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")

    code = run_cli(["export", str(run_dir), str(tmp_path)])

    error = capsys.readouterr().err
    assert code == 2
    assert "already holds files" in error and "Traceback" not in error
    assert [path.name for path in tmp_path.iterdir()] == ["keep.txt"]


def test_a_folder_that_is_not_a_run_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert run_cli(["export", str(tmp_path), str(tmp_path / "out")]) == 2
    assert "not an Enclave run folder" in capsys.readouterr().err


def test_missing_destination_is_a_usage_error(run_dir: Path, capsys: pytest.CaptureFixture[str]):
    assert run_cli(["export", str(run_dir)]) == 2
    assert "DESTINATION" in capsys.readouterr().err
