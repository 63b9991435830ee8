"""Exporting finished runs (adapter, merged, whole model) with their lineage, and the run
folder's own lineage (MODEL_CARD.md, evaluation and sign-off). Real tiny runs trained
with transformers and peft; nothing is mocked but the free disk space."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from peft import PeftModel
from tiny_runs import memorising_config
from transformers import AutoModelForCausalLM, AutoTokenizer

from desktop_app.core import audit
from desktop_app.core.audit import AuditError, AuditLog, verify_log
from desktop_app.core.config import RunConfig
from desktop_app.core.errors import ModelError, UserInputError
from desktop_app.core.events import ListReporter, StageChanged, WarningRaised
from desktop_app.core.hashing import sha256_file
from desktop_app.core.manifest import sign_off_record
from desktop_app.core.run_folder import RunFolder
from desktop_app.engine import export as export_module
from desktop_app.engine.export import EXPORTS_FILE, export_run
from desktop_app.engine.run_record import finish_run_record, record_sign_off, refresh_lineage
from desktop_app.engine.train import run_training

PROMPT = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"


def _train(method: str, tiny_model_dir: Path, folder: Path) -> Path:
    config = memorising_config(
        tiny_model_dir,
        folder,
        method=method,
        max_steps=6,
        learning_rate=2e-2 if method in ("lora", "qlora") else 1e-3,
    )
    result = run_training(config, ListReporter())
    assert result.status == "finished", result.message
    assert result.run_dir is not None
    return result.run_dir


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A workspace for the module's training runs (the per-test one comes later)."""
    with pytest.MonkeyPatch.context() as patch:
        home = tmp_path_factory.mktemp("export-home")
        patch.setenv("ENCLAVE_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def lora_run(
    module_home: Path, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return _train("lora", tiny_model_dir, tmp_path_factory.mktemp("export-lora"))


@pytest.fixture(scope="module")
def qlora_run(
    module_home: Path, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return _train("qlora", tiny_model_dir, tmp_path_factory.mktemp("export-qlora"))


@pytest.fixture(scope="module")
def full_run(
    module_home: Path, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return _train("full", tiny_model_dir, tmp_path_factory.mktemp("export-full"))


@pytest.fixture
def run_copy(lora_run: Path, tmp_path: Path) -> Path:
    """A copy of the LoRA run that a test may change."""
    return Path(shutil.copytree(lora_run, tmp_path / "run-copy"))


def _logits(model: Any, tokenizer: Any) -> torch.Tensor:
    inputs = tokenizer(PROMPT, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        return model(**inputs).logits


def _base(tiny_model_dir: Path) -> Any:
    return AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32).eval()


def _manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


# --- the run folder's lineage ----------------------------------------------------------


def test_finished_run_has_a_model_card_and_room_for_evaluation_and_sign_off(lora_run: Path):
    card = (lora_run / "MODEL_CARD.md").read_text(encoding="utf-8")
    manifest = _manifest(lora_run)

    assert manifest["status"] == "finished"
    assert manifest["sign_off"] is None and manifest["evaluation"] is None
    assert "did not finish" not in card
    adapter_sha = sha256_file(lora_run / "adapter" / "adapter_model.safetensors")
    assert adapter_sha in card
    assert (
        manifest["data_files"][str((lora_run.parent.parent / "facts.jsonl").resolve())]["sha256"]
        in card
    )
    assert "**Not signed off.**" in card


def test_a_run_that_ends_otherwise_gets_its_card_too(run_copy: Path):
    (run_copy / "MODEL_CARD.md").unlink()

    finish_run_record(RunFolder(run_copy), "cancelled", {"step": 3})

    card = (run_copy / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "**This run did not finish** (its state is 'cancelled')" in card


def test_refresh_lineage_adds_the_evaluation_and_sign_off(run_copy: Path):
    evaluation = {
        "status": "finished",
        "evaluated_at": "2026-01-01T00:00:00+00:00",
        "data": {"source": "validation", "records": 4, "answered": 4},
        "base": {"loss": 3.5, "perplexity": 33.1},
        "tuned": {"loss": 0.5, "perplexity": 1.65},
        "examples": [{"prompt": "secret prompt", "base": "x", "tuned": "y"}],
    }
    (run_copy / "evaluation.json").write_text(json.dumps(evaluation), encoding="utf-8")

    card_path = refresh_lineage(run_copy)

    manifest = _manifest(run_copy)
    assert manifest["evaluation"]["tuned"]["loss"] == 0.5
    assert "examples" not in manifest["evaluation"]  # scores, not the answers
    assert "| Loss (lower is better) | 3.5000 | 0.5000 |" in card_path.read_text(encoding="utf-8")

    record_sign_off(run_copy, sign_off_record("R. Mensah", "approved", "2026-01-02", "OK."))

    manifest = _manifest(run_copy)
    assert manifest["sign_off"]["reviewer"] == "R. Mensah"
    assert manifest["sign_off"]["decision"] == "approved"
    card = card_path.read_text(encoding="utf-8")
    assert "**Decision:** approved" in card and "Not signed off" not in card
    assert manifest["evaluation"]["tuned"]["loss"] == 0.5  # kept


def test_a_sign_off_needs_a_reviewer_and_a_known_decision():
    with pytest.raises(UserInputError, match="reviewer"):
        sign_off_record("  ", "approved", "2026-01-02")
    with pytest.raises(UserInputError, match="not a sign-off decision"):
        sign_off_record("R. Mensah", "fine", "2026-01-02")


# --- exports -----------------------------------------------------------------------------


def test_adapter_export_loads_back_with_peft_and_answers_like_the_run(
    lora_run: Path, tiny_model_dir: Path, tmp_path: Path
):
    reporter = ListReporter()

    result = export_run(lora_run, tmp_path / "export", reporter=reporter)

    folder = result.destination
    assert result.kind == "adapter" and not result.merged
    names = {path.name for path in folder.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "tokenizer.json"} <= names
    assert {"manifest.json", "MODEL_CARD.md"} <= names
    assert "README.md" not in names  # PEFT's template card; MODEL_CARD.md replaces it
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    exported = PeftModel.from_pretrained(_base(tiny_model_dir), str(folder)).eval()
    original = PeftModel.from_pretrained(_base(tiny_model_dir), str(lora_run / "adapter")).eval()
    assert torch.equal(_logits(exported, tokenizer), _logits(original, tokenizer))
    assert not torch.allclose(
        _logits(exported, tokenizer), _logits(_base(tiny_model_dir), tokenizer)
    )
    stages = [event.stage for event in reporter.of_type(StageChanged)]
    assert stages[0] == "checking" and stages[-1] == "done"


def test_merged_export_loads_alone_and_matches_base_plus_adapter(
    lora_run: Path, tiny_model_dir: Path, tmp_path: Path
):
    result = export_run(lora_run, tmp_path / "merged", merge=True)

    folder = result.destination
    assert result.kind == "merged" and result.merged
    assert not (folder / "adapter_config.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    assert all(p.dtype == torch.float32 for p in merged.parameters())  # trained on the CPU
    assert merged.config.use_cache is True
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    reference = PeftModel.from_pretrained(_base(tiny_model_dir), str(lora_run / "adapter"))
    expected = _logits(reference.eval(), tokenizer)
    assert torch.allclose(_logits(merged, tokenizer), expected, atol=1e-4)
    assert not torch.allclose(_logits(_base(tiny_model_dir), tokenizer), expected, atol=1e-2)
    assert _manifest(folder)["export"]["dtype"] == "float32"


def test_qlora_adapter_merges_into_the_full_precision_base(
    qlora_run: Path, tiny_model_dir: Path, tmp_path: Path
):
    result = export_run(qlora_run, tmp_path / "merged", merge=True)

    merged = AutoModelForCausalLM.from_pretrained(str(result.destination)).eval()
    assert getattr(merged.config, "quantization_config", None) is None
    q_proj = merged.model.layers[0].self_attn.q_proj
    assert type(q_proj) is torch.nn.Linear and q_proj.weight.dtype == torch.float32
    tokenizer = AutoTokenizer.from_pretrained(str(result.destination))
    reference = PeftModel.from_pretrained(_base(tiny_model_dir), str(qlora_run / "adapter"))
    assert torch.allclose(
        _logits(merged, tokenizer), _logits(reference.eval(), tokenizer), atol=1e-4
    )
    card = (result.destination / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "QLoRA" in card and "compressed (4-bit) copy" in card


def test_full_run_exports_its_whole_model(full_run: Path, tmp_path: Path):
    reporter = ListReporter()

    result = export_run(full_run, tmp_path / "model", merge=True, reporter=reporter)

    assert result.kind == "model" and not result.merged
    assert "no adapter to merge" in reporter.of_type(WarningRaised)[0].message
    exported = AutoModelForCausalLM.from_pretrained(str(result.destination)).eval()
    trained = AutoModelForCausalLM.from_pretrained(str(full_run / "model")).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(result.destination))
    assert torch.equal(_logits(exported, tokenizer), _logits(trained, tokenizer))


def test_export_manifest_card_audit_entry_and_run_record(lora_run: Path, tmp_path: Path):
    audit.record("app_started", {"version": "test"})
    head_before = AuditLog().head()
    assert head_before is not None

    result = export_run(lora_run, tmp_path / "out" / "export")

    folder = result.destination
    manifest = _manifest(folder)
    assert manifest["run"] == str(lora_run.resolve())
    assert manifest["seed"] == 42 and manifest["model"]["weights"]  # the run's lineage
    export = manifest["export"]
    assert (export["kind"], export["merged"]) == ("adapter", False)
    assert export["audit_head"] == head_before["hash"]
    assert export["destination"] == str(folder)
    assert export["user"] and export["time"] and export["libraries"]["peft"]
    for name, entry in export["artifacts"].items():
        assert sha256_file(folder / name) == entry["sha256"]
        assert (folder / name).stat().st_size == entry["bytes"]
    assert "manifest.json" not in export["artifacts"]  # it cannot hold its own hash

    card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "**export**" in card and str(lora_run.resolve()) in card
    assert export["artifacts"]["adapter_model.safetensors"]["sha256"] in card
    assert head_before["hash"] in card

    entry = AuditLog().entries()[-1]
    assert entry["event"] == "exported" and entry["run"] == str(lora_run.resolve())
    assert entry["hash"] == result.audit_hash
    details = entry["details"]
    assert details["destination"] == str(folder)
    assert (details["kind"], details["merged"]) == ("adapter", False)
    assert details["artifacts"]["manifest.json"] == sha256_file(folder / "manifest.json")
    assert details["artifacts"]["MODEL_CARD.md"] == sha256_file(folder / "MODEL_CARD.md")
    assert set(details["artifacts"]) == {path.name for path in folder.iterdir()}
    assert verify_log().intact

    exports = json.loads((lora_run / EXPORTS_FILE).read_text(encoding="utf-8"))
    mine = [item for item in exports if item["path"] == str(folder)]
    assert len(mine) == 1
    assert mine[0]["kind"] == "adapter" and mine[0]["merged"] is False and mine[0]["time"]


def test_an_empty_destination_folder_is_used(lora_run: Path, tmp_path: Path):
    (tmp_path / "empty").mkdir()

    result = export_run(lora_run, tmp_path / "empty")

    assert (result.destination / "adapter_model.safetensors").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]  # no staging folder left


def _exported_entries() -> list[dict[str, Any]]:
    return [entry for entry in AuditLog().entries() if entry["event"] == "exported"]


def test_a_destination_with_files_is_refused_and_left_alone(lora_run: Path, tmp_path: Path):
    destination = tmp_path / "taken"
    destination.mkdir()
    (destination / "notes.txt").write_text("keep me", encoding="utf-8")

    with pytest.raises(UserInputError, match="already holds files"):
        export_run(lora_run, destination)

    assert [p.name for p in destination.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]
    assert not _exported_entries()


def test_a_file_as_destination_is_refused(lora_run: Path, tmp_path: Path):
    target = tmp_path / "model.bin"
    target.write_bytes(b"x")

    with pytest.raises(UserInputError, match="is a file, not a folder"):
        export_run(lora_run, target)


@pytest.mark.parametrize("status", ["cancelled", "failed", "running"])
def test_only_finished_runs_export(run_copy: Path, tmp_path: Path, status: str):
    manifest = _manifest(run_copy)
    manifest["status"] = status
    (run_copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    with pytest.raises(UserInputError, match=f"did not finish \\(its state is '{status}'\\)"):
        export_run(run_copy, tmp_path / "export")

    assert not (tmp_path / "export").exists()


def test_a_folder_that_is_not_a_run_is_refused(tmp_path: Path):
    with pytest.raises(UserInputError, match="not an Enclave run folder"):
        export_run(tmp_path, tmp_path / "export")


def test_a_changed_adapter_is_refused(run_copy: Path, tmp_path: Path):
    weights = run_copy / "adapter" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)

    with pytest.raises(UserInputError, match="has changed since training finished"):
        export_run(run_copy, tmp_path / "export")


def test_a_failed_merge_leaves_nothing_behind(run_copy: Path, tmp_path: Path):
    manifest = _manifest(run_copy)
    for entry in manifest["model"]["weights"].values():
        entry["sha256"] = "0" * 64  # as if the base model had been replaced since
    (run_copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    parent = tmp_path / "exports"
    parent.mkdir()
    exports = run_copy / EXPORTS_FILE
    recorded = exports.read_text(encoding="utf-8") if exports.exists() else None

    with pytest.raises(ModelError, match="not the ones this run was trained on"):
        export_run(run_copy, parent / "merged", merge=True)

    assert list(parent.iterdir()) == []  # neither the export nor its staging folder
    assert not _exported_entries()
    assert (exports.read_text(encoding="utf-8") if exports.exists() else None) == recorded


def test_too_little_disk_space_is_refused_plainly(
    lora_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    real = shutil.disk_usage

    def nearly_full(path: Any) -> Any:
        return real(path)._replace(free=1024)

    monkeypatch.setattr(export_module.shutil, "disk_usage", nearly_full)

    with pytest.raises(UserInputError, match="not enough free disk space") as caught:
        export_run(lora_run, tmp_path / "export")

    assert "Free some space" in caught.value.user_message()
    assert not (tmp_path / "export").exists()


def test_an_export_that_cannot_be_audited_is_removed(
    lora_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AuditError("The audit log cannot be written.")

    monkeypatch.setattr(export_module, "record", refuse)

    with pytest.raises(AuditError):
        export_run(lora_run, tmp_path / "export")

    assert list(tmp_path.iterdir()) == []


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_gpu_qlora_run_merges_in_its_own_number_format(tiny_config: RunConfig, tmp_path: Path):
    tiny_config.method.name = "qlora"
    result = run_training(tiny_config, ListReporter())
    assert result.status == "finished" and result.run_dir is not None, result.message
    compute_dtype = _manifest(result.run_dir)["compute_dtype"]  # bfloat16 or float16

    exported = export_run(result.run_dir, tmp_path / "merged", merge=True)

    assert _manifest(exported.destination)["export"]["dtype"] == compute_dtype
    merged = AutoModelForCausalLM.from_pretrained(str(exported.destination), dtype="auto")
    assert getattr(merged.config, "quantization_config", None) is None
    assert {p.dtype for p in merged.parameters()} == {getattr(torch, compute_dtype)}
