"""A finished run as its folder records it: what was trained, from which base model,
where the trained adapter or model is, and how training went.

Read from the run's manifest only (no model is loaded), for the Evaluate step and
``enclave evaluate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from desktop_app.core.errors import UserInputError
from desktop_app.core.run_folder import RunFolder

#: ``chat``: prompts go through the chat template, as conversations were trained;
#: ``plain``: the prompt is raw text, as plain-text (``text`` format) runs were trained.
PromptStyle = Literal["chat", "plain"]
#: Methods whose output is an adapter on the base model (the others save a whole model).
ADAPTER_METHODS = ("lora", "qlora")


@dataclass(frozen=True)
class FinishedRun:
    """What a finished run folder holds, read from its manifest: the method, the base
    model as configured, the trained adapter (``adapter/``) or model (``model/``), the
    final metrics (steps, train_loss; eval_loss and eval_perplexity with validation
    data), start and end times (ISO 8601, UTC) and the example counts, if recorded."""

    run_dir: Path
    method: str
    base_model: str
    output_path: Path
    metrics: dict[str, float] = field(default_factory=dict)
    started_at: str | None = None
    finished_at: str | None = None
    prompt_style: PromptStyle = "chat"
    train_records: int | None = None
    validation_records: int | None = None

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from start to finish (loading and saving included), if recorded."""
        if not self.started_at or not self.finished_at:
            return None
        try:
            started = datetime.fromisoformat(self.started_at)
            finished = datetime.fromisoformat(self.finished_at)
        except ValueError:
            return None
        return max((finished - started).total_seconds(), 0.0)


def open_finished_run(path: str | Path) -> FinishedRun:
    """Read a finished run from its folder (or from its ``adapter``/``model`` folder).

    Raises:
        UserInputError: the folder is not a run folder, the run did not finish, or its
            trained model is missing.
    """
    given = Path(path)
    if not (given / "manifest.json").is_file() and (given.parent / "manifest.json").is_file():
        given = given.parent  # the adapter/ or model/ folder was given
    folder = RunFolder.open(given)
    manifest = folder.read_manifest_or_explain()
    status = manifest.get("status")
    if status != "finished":
        raise UserInputError(
            f"The run in {folder.path} did not finish (its state is '{status or 'unknown'}'), "
            "so it has no trained model to try.",
            "Finish the run (resume it on the Train step) or train again.",
        )
    method = str(manifest.get("method", ""))
    output = folder.adapter_dir if method in ADAPTER_METHODS else folder.model_dir
    if not output.is_dir() or not any(output.glob("*.safetensors")):
        raise UserInputError(
            f"The trained model of the run in {folder.path} is missing: {output} has no "
            ".safetensors file.",
            "Copy the whole run folder back, or train the model again.",
        )
    split = manifest.get("data", {}).get("split", {})
    return FinishedRun(
        run_dir=folder.path,
        method=method,
        base_model=str(manifest.get("model", {}).get("path", "")),
        output_path=output,
        metrics={
            k: float(v) for k, v in manifest.get("final_metrics", {}).items() if v is not None
        },
        started_at=manifest.get("started_at"),
        finished_at=manifest.get("finished_at"),
        prompt_style=_prompt_style(manifest),
        train_records=split.get("train_records"),
        validation_records=split.get("validation_records"),
    )


def _prompt_style(manifest: dict[str, Any]) -> PromptStyle:
    formats = {
        entry.get("format")
        for entry in manifest.get("data", {}).get("files", [])
        if entry.get("role") == "train"
    }
    return "plain" if formats == {"text"} else "chat"


def latest_finished_run(output_dir: str | Path) -> FinishedRun | None:
    """The most recently finished run under ``output_dir`` (config ``output.dir``), or
    None when there is none. Folders that cannot be read are passed over."""
    root = Path(output_dir)
    if not root.is_dir():
        return None
    found: list[tuple[str, str, FinishedRun]] = []
    for child in root.iterdir():
        if not (child / "manifest.json").is_file():
            continue
        try:
            run = open_finished_run(child)
        except (UserInputError, OSError, ValueError, AttributeError):
            continue
        found.append((run.finished_at or "", child.name, run))
    return max(found, key=lambda item: item[:2])[2] if found else None
