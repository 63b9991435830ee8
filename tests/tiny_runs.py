"""Training data and run configurations several test modules share: four facts asked
several ways, learned by the tiny model. Importable as ``tiny_runs`` (tests/ is on the
import path through its conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

from desktop_app.core.config import RunConfig

FACTS = [
    ("What is the capital of France?", "The capital of France is Paris."),
    ("Who approves the claim?", "The underwriting team approves the claim."),
    ("When is the invoice due?", "The invoice is due within thirty days."),
    ("What must patients sign?", "Patients must sign the consent form."),
]
#: The ways each fact is asked; with all four, sixteen records and no duplicates.
OPENINGS = ("", "Tell me: ", "Question: ", "Please answer: ")


def write_jsonl(path: Path, records: list[dict]) -> Path:
    """Write ``records`` as JSON lines (UTF-8) and return the path."""
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def fact_records(openings: tuple[str, ...] = OPENINGS) -> list[dict]:
    """Alpaca records: every fact asked with every opening, opening by opening."""
    return [
        {"instruction": opening + question, "input": "", "output": answer}
        for opening in openings
        for question, answer in FACTS
    ]


def facts_config(
    model_dir: Path,
    folder: Path,
    *,
    method: str,
    max_steps: int,
    learning_rate: float,
    openings: tuple[str, ...] = OPENINGS,
) -> RunConfig:
    """A short run on the facts (written to ``folder/facts.jsonl``): a quarter held out,
    batches of 4 at 64 tokens, no evaluation or checkpoint during the run, runs in
    ``folder/runs``."""
    config = RunConfig()
    config.model.path = str(model_dir)
    config.data.train = str(write_jsonl(folder / "facts.jsonl", fact_records(openings)))
    config.data.validation_fraction = 0.25
    config.method.name = method
    hyper = config.hyperparameters
    hyper.max_steps = max_steps
    hyper.batch_size = 4
    hyper.learning_rate = learning_rate
    hyper.max_length = 64
    hyper.eval_every_steps = 0
    hyper.save_every_steps = 0
    config.output.dir = str(folder / "runs")
    return config


def memorising_config(
    model_dir: Path, folder: Path, *, method: str, max_steps: int, learning_rate: float
) -> RunConfig:
    """:func:`facts_config` learned until the model repeats the facts: no dropout, no
    warm-up, a constant learning rate."""
    config = facts_config(
        model_dir, folder, method=method, max_steps=max_steps, learning_rate=learning_rate
    )
    config.method.lora_dropout = 0.0
    config.hyperparameters.warmup_ratio = 0.0
    config.hyperparameters.lr_scheduler = "constant"
    return config
