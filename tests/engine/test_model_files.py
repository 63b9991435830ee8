"""Finding and checking base models, and converting a GGUF file into a cached model folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from desktop_app.core.config import DEMO_MODEL
from desktop_app.core.errors import ModelError
from desktop_app.core.events import ListReporter, StageChanged
from desktop_app.core.paths import cache_dir
from desktop_app.engine.model_files import (
    CONVERSION_MARKER,
    ModelSource,
    demo_model_file,
    model_weight_files,
    prepare_model_folder,
    resolve_model_source,
)


@pytest.fixture
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A copy of the tiny model that a test may damage."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))


def test_a_complete_folder_resolves(tiny_model_dir: Path) -> None:
    source = resolve_model_source(str(tiny_model_dir))
    assert source == ModelSource("folder", tiny_model_dir.resolve(), tiny_model_dir.name)
    assert prepare_model_folder(source) == tiny_model_dir.resolve()
    assert model_weight_files(tiny_model_dir) == [tiny_model_dir / "model.safetensors"]


def test_folder_without_config_is_refused(model_copy: Path) -> None:
    (model_copy / "config.json").unlink()
    with pytest.raises(ModelError, match="config.json is missing") as caught:
        resolve_model_source(str(model_copy))
    assert "is not a model folder" in caught.value.message


def test_folder_holding_a_gguf_points_at_the_file(tmp_path: Path) -> None:
    (tmp_path / "model.Q4_K_M.gguf").write_bytes(b"GGUF" + bytes(32))
    with pytest.raises(ModelError, match="config.json is missing") as caught:
        resolve_model_source(str(tmp_path))
    assert "model.Q4_K_M.gguf" in caught.value.hint


def test_pickle_weights_are_refused_because_they_can_run_code(model_copy: Path) -> None:
    (model_copy / "model.safetensors").rename(model_copy / "pytorch_model.bin")
    with pytest.raises(ModelError) as caught:
        resolve_model_source(str(model_copy))
    assert "pytorch_model.bin" in caught.value.message
    assert "Pickle files can run code" in caught.value.message
    assert "safetensors" in caught.value.hint


def test_folder_without_weights_is_refused(model_copy: Path) -> None:
    (model_copy / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="no model weights"):
        resolve_model_source(str(model_copy))


def test_sharded_folder_with_a_missing_shard_is_refused(model_copy: Path) -> None:
    index = {
        "metadata": {},
        "weight_map": {
            "a": "model-00001-of-00002.safetensors",
            "b": "model-00002-of-00002.safetensors",
        },
    }
    (model_copy / "model.safetensors").rename(model_copy / "model-00001-of-00002.safetensors")
    (model_copy / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ModelError, match="model-00002-of-00002.safetensors"):
        resolve_model_source(str(model_copy))


def test_folder_without_tokenizer_is_refused(model_copy: Path) -> None:
    (model_copy / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match="has no tokenizer"):
        resolve_model_source(str(model_copy))


def test_a_hub_id_is_explained_never_downloaded() -> None:
    with pytest.raises(ModelError) as caught:
        resolve_model_source("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert caught.value.message == (
        "'HuggingFaceTB/SmolLM2-135M-Instruct' looks like a Hugging Face Hub id. Enclave never "
        "downloads models: download it on a connected machine, copy the folder here and give "
        "its path."
    )


def test_a_missing_path_is_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelError, match="not found") as caught:
        resolve_model_source(str(missing))
    assert str(missing) in caught.value.message
    assert "Hub id" not in caught.value.message


def test_gguf_files_are_checked_for_their_signature(tmp_path: Path) -> None:
    good = tmp_path / "good.gguf"
    good.write_bytes(b"GGUF" + bytes(32))
    assert resolve_model_source(str(good)) == ModelSource("gguf", good.resolve(), "good.gguf")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"<html>not a model</html>")
    with pytest.raises(ModelError, match="not a GGUF file"):
        resolve_model_source(str(bad))


def test_a_weights_file_is_refused_with_the_folder_to_use(tiny_model_dir: Path) -> None:
    with pytest.raises(ModelError) as caught:
        resolve_model_source(str(tiny_model_dir / "model.safetensors"))
    assert str(tiny_model_dir.resolve()) in caught.value.hint


def test_the_demo_model_resolves_to_its_gguf_file() -> None:
    source = resolve_model_source(DEMO_MODEL)
    assert source.kind == "gguf"
    assert source.path == demo_model_file()
    assert source.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    with open(source.path, "rb") as handle:
        assert handle.read(4) == b"GGUF"


def test_a_failed_conversion_leaves_nothing_in_the_cache(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(64))
    reporter = ListReporter()
    with pytest.raises(ModelError, match="could not be converted"):
        prepare_model_folder(resolve_model_source(str(broken)), reporter)
    assert list((cache_dir() / "gguf").iterdir()) == []
    assert reporter.of_type(StageChanged)[0].stage == "converting"


@pytest.mark.slow
def test_the_demo_gguf_converts_once_into_a_loadable_folder() -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = resolve_model_source(DEMO_MODEL)
    reporter = ListReporter()
    folder = prepare_model_folder(source, reporter)

    assert folder.parent == cache_dir() / "gguf"
    assert len(folder.name) == 16
    marker = json.loads((folder / CONVERSION_MARKER).read_text())
    assert marker["sha256"].startswith(folder.name)
    assert marker["source"] == str(source.path)
    details = [event.detail for event in reporter.of_type(StageChanged)]
    assert any("tokenizer" in detail for detail in details)
    assert any("De-quantising" in detail for detail in details)
    assert any("Saving" in detail for detail in details)
    assert [name for name in (folder.parent).iterdir() if name.name.startswith(".")] == []
    assert model_weight_files(folder) == [folder / "model.safetensors"]

    # The second call finds the finished folder and converts nothing.
    marker_time = (folder / CONVERSION_MARKER).stat().st_mtime_ns
    again = ListReporter()
    assert prepare_model_folder(source, again) == folder
    assert (folder / CONVERSION_MARKER).stat().st_mtime_ns == marker_time
    assert not any("De-quantising" in event.detail for event in again.of_type(StageChanged))

    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.chat_template
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hello"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt.endswith("<|im_start|>assistant\n")
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert model.config.model_type == "llama"
    assert abs(model.num_parameters() - 134_515_008) < 1_000_000


def test_conversion_is_refused_when_the_disk_is_too_small(monkeypatch: pytest.MonkeyPatch):
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    # The operating system's answer is replaced; the check itself is the code under test.
    monkeypatch.setattr(
        "desktop_app.engine.model_conversion.shutil.disk_usage", lambda path: usage(2**30, 0, 2**20)
    )
    with pytest.raises(ModelError, match=r"needs about 0\.5 GiB .* only 0\.0 GiB is free"):
        prepare_model_folder(resolve_model_source(DEMO_MODEL))
    assert not [p for p in (cache_dir() / "gguf").iterdir() if p.name[0] != "."]
