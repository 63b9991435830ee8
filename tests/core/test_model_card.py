"""MODEL_CARD.md from a run's manifest: everything a reader who was not there needs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from desktop_app.core.model_card import model_card_markdown

WEIGHTS_SHA = "a" * 64
DATA_SHA = "b" * 64
ADAPTER_SHA = "c" * 64
AUDIT_HEAD = "d" * 64


def _manifest() -> dict[str, Any]:
    """A QLoRA run's manifest as run_training writes it, on a GPU, with personal data."""
    return {
        "enclave_version": "0.1.0",
        "status": "finished",
        "method": "qlora",
        "seed": 1234,
        "started_at": "2026-03-02T09:00:00+00:00",
        "finished_at": "2026-03-02T10:15:30+00:00",
        "user": "asha",
        "host": "lab-ws-07",
        "os": "Linux-6.8-x86_64",
        "model": {
            "path": "/models/Qwen2.5-1.5B-Instruct",
            "source": "/models/Qwen2.5-1.5B-Instruct",
            "weights": {
                "/models/Qwen2.5-1.5B-Instruct/model.safetensors": {
                    "sha256": WEIGHTS_SHA,
                    "bytes": 3_087_467_144,
                }
            },
        },
        "data_files": {"/data/claims.jsonl": {"sha256": DATA_SHA, "bytes": 88_213}},
        "libraries": {"python": "3.11.7", "torch": "2.5.1", "peft": "0.13.2", "gguf": None},
        "hardware": {
            "gpus": [
                {
                    "index": 0,
                    "name": "NVIDIA RTX A4000",
                    "total_memory_bytes": 17_171_480_576,
                    "free_memory_bytes": 16_000_000_000,
                    "compute_capability": "8.6",
                    "supports_bf16": True,
                }
            ],
            "cpu_cores_physical": 8,
            "cpu_cores_logical": 16,
            "ram_total_bytes": 68_719_476_736,
            "ram_available_bytes": 60_000_000_000,
            "disk_free_bytes": 500_000_000_000,
            "disk_path": "/runs",
            "os": "Linux 6.8 (x86_64)",
            "torch_cuda_build": True,
        },
        "config": {
            "data": {"train": "/data/claims.jsonl", "train_on_prompt": False},
            "method": {
                "name": "qlora",
                "lora_r": 16,
                "lora_alpha": 32,
                "lora_dropout": 0.05,
                "target_modules": "all-linear",
            },
            "hyperparameters": {
                "epochs": 3.0,
                "max_steps": 0,
                "learning_rate": 0.0002,
                "batch_size": 4,
                "gradient_accumulation_steps": 4,
                "max_length": 1024,
                "seed": 1234,
                "warmup_ratio": 0.03,
                "lr_scheduler": "cosine",
                "weight_decay": 0.0,
            },
        },
        "final_metrics": {
            "steps": 300.0,
            "train_loss": 0.8123,
            "eval_loss": 0.9345,
            "eval_perplexity": 2.546,
        },
        "device": "cuda",
        "compute_dtype": "bfloat16",
        "quantization": {"bits": 4, "quant_type": "nf4", "double_quantization": True},
        "data": {
            "files": [
                {
                    "path": "/data/claims.jsonl",
                    "role": "train",
                    "weight": 1.0,
                    "format": "alpaca",
                    "records_read": 412,
                    "records_used": 409,
                    "excluded": [{"line": 3, "reason": "empty output"}],
                }
            ],
            "excluded_records": 3,
            "personal_data": {
                "redaction": "pseudonyms",
                "values_found": {"EMAIL": 12, "PHONE": 4},
                "records_with_personal_data": 14,
                "records": [{"file": "/data/claims.jsonl", "line": 7, "types": ["EMAIL"]}],
            },
            "split": {
                "seed": 1234,
                "train_records": 368,
                "validation_records": 41,
                "test_records": 0,
            },
        },
        "resumed_at": [],
        "outputs": {
            "/runs/claims/adapter/adapter_model.safetensors": {
                "sha256": ADAPTER_SHA,
                "bytes": 73_911_112,
            }
        },
        "evaluation": None,
        "sign_off": None,
    }


def _evaluation() -> dict[str, Any]:
    return {
        "status": "finished",
        "evaluated_at": "2026-03-02T11:00:00+00:00",
        "data": {"source": "validation", "files": ["/data/claims.jsonl"], "records": 41},
        "base": {
            "loss": 2.1,
            "perplexity": 8.17,
            "generation": {"exact_match": 0.05, "token_f1": 0.31, "rouge_l": 0.28, "bleu": 9.4},
        },
        "tuned": {
            "loss": 0.93,
            "perplexity": 2.53,
            "generation": {"exact_match": 0.41, "token_f1": 0.77, "rouge_l": 0.74, "bleu": 51.2},
        },
        "notes": ["3 answers were cut at the longest answer allowed."],
    }


def _section(card: str, title: str) -> str:
    """The text of one ``## title`` section."""
    start = card.index(f"## {title}")
    end = card.find("\n## ", start + 1)
    return card[start : end if end != -1 else None]


def test_card_says_what_the_model_is_and_what_it_learned_from():
    card = model_card_markdown(_manifest(), audit_head=AUDIT_HEAD)

    what = _section(card, "What this model is")
    assert "QLoRA" in what and "/models/Qwen2.5-1.5B-Instruct" in what
    assert WEIGHTS_SHA in what
    assert "bits 4" in what and "quant type nf4" in what
    data = _section(card, "What it was trained on")
    assert f"| `/data/claims.jsonl` | train | alpaca | 412 | 409 | `{DATA_SHA}` |" in data
    assert "368 records were trained on, 41 kept back for validation" in data
    assert "3 records were left out" in data
    assert "14 records held personal data (12 EMAIL, 4 PHONE)" in data
    assert "consistent made-up value" in data


def test_card_says_how_where_when_and_by_whom():
    card = model_card_markdown(_manifest())

    how = _section(card, "How it was trained")
    for row in (
        "| Seed | 1234 |",
        "| Learning rate | 0.0002 |",
        "| LoRA rank (r) | 16 |",
        "| Most steps | no limit (epochs decide) |",
        "| Number format | bfloat16 |",
        "| Train on prompts too | no |",
    ):
        assert row in how
    who = _section(card, "Who, where and when")
    assert "asha on lab-ws-07" in who
    assert "2026-03-02T09:00:00+00:00" in who and "(1 h 15 min)" in who
    assert "NVIDIA RTX A4000 (16.0 GiB)" in who
    assert "| peft | 0.13.2 |" in who and "| gguf | not installed |" in who


def test_card_shows_final_metrics_and_the_comparison_with_the_base_model():
    without = model_card_markdown(_manifest())
    assert "| Validation loss | 0.9345 |" in without
    assert "has not been compared with its base model yet" in without

    card = model_card_markdown(_manifest(), _evaluation())
    results = _section(card, "Results")
    assert "41 held-out records (validation)" in results
    assert "| Loss (lower is better) | 2.1000 | 0.9300 |" in results
    assert "| Exact match | 5.0% | 41.0% |" in results
    assert "| BLEU (0-100) | 9.4 | 51.2 |" in results
    assert "Accuracy" not in results  # no classification scores for answers
    assert "3 answers were cut" in results


def test_evaluation_summary_kept_in_the_manifest_is_used():
    manifest = _manifest()
    manifest["evaluation"] = _evaluation()

    assert "| Exact match | 5.0% | 41.0% |" in model_card_markdown(manifest)


def test_unsigned_model_says_so_plainly():
    card = model_card_markdown(_manifest())

    assert "**Not signed off.**" in _section(card, "Sign-off")
    assert "Nobody has signed it off yet" in _section(card, "Intended use and limitations")


def test_sign_off_decision_reviewer_and_notes():
    manifest = _manifest()
    manifest["sign_off"] = {
        "reviewer": "Dr. Okafor",
        "decision": "approved",
        "date": "2026-03-03",
        "notes": "For claims triage only.\nReview again after 3 months.",
    }

    card = model_card_markdown(manifest)

    sign_off = _section(card, "Sign-off")
    assert "**Decision:** approved" in sign_off and "**Reviewer:** Dr. Okafor" in sign_off
    assert "  > For claims triage only.\n  > Review again after 3 months." in sign_off
    assert "Not signed off" not in card
    assert "Nobody has signed it off" not in card

    rejected = model_card_markdown(
        _manifest(), sign_off={**manifest["sign_off"], "decision": "rejected"}
    )
    assert "decision was 'rejected'" in _section(rejected, "Intended use and limitations")


def test_limitations_name_what_applies_to_this_run():
    manifest = _manifest()
    card = model_card_markdown(manifest)
    limitations = _section(card, "Intended use and limitations")
    assert "only 368 records" in limitations
    assert "may repeat it" not in limitations  # personal data was replaced

    manifest["data"]["personal_data"]["redaction"] = "off"
    manifest["data"]["split"]["validation_records"] = 0
    limitations = _section(model_card_markdown(manifest), "Intended use and limitations")
    assert "personal data that was not removed, so it may repeat it" in limitations
    assert "No records were kept back for validation" in limitations


def test_run_card_lists_the_trained_files_and_the_audit_head():
    card = model_card_markdown(_manifest(), audit_head=AUDIT_HEAD)

    verify = _section(card, "How to check these files")
    assert ADAPTER_SHA in verify and "sha256sum" in verify
    assert AUDIT_HEAD in verify


def test_export_card_describes_the_export_and_its_files():
    manifest = _manifest()
    manifest["run"] = "/runs/claims"
    manifest["export"] = {
        "kind": "merged",
        "merged": True,
        "dtype": "bfloat16",
        "time": "2026-03-04T08:00:00+00:00",
        "user": "ben",
        "audit_head": AUDIT_HEAD,
        "artifacts": {
            "model.safetensors": {"sha256": "e" * 64, "bytes": 3_087_000_000},
            "tokenizer.json": {"sha256": "f" * 64, "bytes": 7_000_000},
        },
    }

    card = model_card_markdown(manifest)

    assert "**export** made on 2026-03-04T08:00:00+00:00 by ben" in card
    assert "merged into a full-precision copy of the base model" in card
    assert "`/runs/claims`" in card
    assert "AutoModelForCausalLM.from_pretrained(this_folder)" in card
    verify = _section(card, "How to check these files")
    assert f"| `model.safetensors` | 2.9 GiB | `{'e' * 64}` |" in verify
    assert ADAPTER_SHA not in verify  # the run's own files are not this export's
    assert AUDIT_HEAD in verify
    assert "compressed (4-bit) copy" in _section(card, "Intended use and limitations")


def test_adapter_export_explains_that_the_base_model_is_needed():
    manifest = _manifest()
    manifest["export"] = {"kind": "adapter", "merged": False, "artifacts": {}}

    card = model_card_markdown(manifest)

    assert "PeftModel.from_pretrained(base_model, this_folder)" in card
    assert "compressed (4-bit) copy" not in card


@pytest.mark.parametrize("status", ["failed", "cancelled", "interrupted"])
def test_run_that_did_not_finish_gets_a_card_too(status: str):
    manifest = _manifest()
    manifest.update(status=status, final_metrics={}, outputs={})
    del manifest["data"]

    card = model_card_markdown(manifest)

    assert f"**This run did not finish** (its state is '{status}')" in card
    assert "no final figures" in card
    assert DATA_SHA in card  # the data hashes are still shown


def test_card_of_an_almost_empty_manifest_does_not_fail():
    card = model_card_markdown({"status": "failed"})

    assert card.startswith("# Model card")
    assert "**Not signed off.**" in card


def test_table_cells_cannot_break_the_table():
    manifest = copy.deepcopy(_manifest())
    manifest["data"]["files"][0]["format"] = "odd|format\nname"

    card = model_card_markdown(manifest)

    assert "odd\\|format name" in card
