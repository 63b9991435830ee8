"""Safe loading: pickle weights refused or converted with weights_only, a model's own
code refused unless allowed (then warned about and audited), checkpoint files read the
safe way on resume, and run folders private to the user. Real torch, transformers and
peft on the tiny model; the malicious files really would run code if unpickled."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
import sys
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from desktop_app.core.audit import AuditLog, verify_log
from desktop_app.core.config import ModelSpec, RunConfig
from desktop_app.core.errors import ModelError
from desktop_app.core.events import ListReporter, StepMetrics, WarningRaised
from desktop_app.core.hashing import sha256_file
from desktop_app.core.paths import cache_dir
from desktop_app.core.permissions import PRIVATE_UMASK
from desktop_app.engine.checkpoint_safety import (
    CheckpointRefused,
    check_checkpoint_state,
    force_weights_only_loads,
)
from desktop_app.engine.loading import load_for_training, load_tokenizer
from desktop_app.engine.model_files import (
    CONVERSION_MARKER,
    PickleWeightsRefused,
    RemoteCodeRefused,
    audit_model_opened,
    prepare_model_folder,
    resolve_model_source,
)
from desktop_app.engine.safe_loading import write_safetensors_copy
from desktop_app.engine.train import run_training


class RunsCodeWhenUnpickled:
    """Unpickling this calls exec, which writes a marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def _audit(event: str) -> list[dict]:
    return [entry for entry in AuditLog().entries() if entry["event"] == event]


def _state_dict(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


@pytest.fixture
def pickle_model(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """The tiny model with its weights only in two pickle shards and their index."""
    folder = Path(shutil.copytree(tiny_model_dir, tmp_path / "pickle-model"))
    weights = _state_dict(folder)
    (folder / "model.safetensors").unlink()
    names = sorted(weights)
    shards = {"pytorch_model-00001-of-00002.bin": names[::2]}
    shards["pytorch_model-00002-of-00002.bin"] = names[1::2]
    weight_map = {}
    for shard, keys in shards.items():
        torch.save({key: weights[key] for key in keys}, folder / shard)
        weight_map.update(dict.fromkeys(keys, shard))
    (folder / "pytorch_model.bin.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )
    torch.save({"not": "weights"}, folder / "training_args.bin")  # never loaded
    return folder


# --- pickle weights -----------------------------------------------------------------------


def test_a_pickle_only_model_is_refused_by_default_with_the_opt_in_named(pickle_model: Path):
    for given in (str(pickle_model), ModelSpec(path=str(pickle_model))):
        with pytest.raises(PickleWeightsRefused) as caught:
            resolve_model_source(given)
        assert "pytorch_model-00001-of-00002.bin" in caught.value.message
        assert "Pickle files can run code" in caught.value.message
        assert "model.convert_pickle_weights" in caught.value.hint
        assert "pytorch_model-00002-of-00002.bin" in caught.value.files
    assert not _audit("pickle_converted")


def test_pickle_weights_convert_once_with_weights_only_and_load_equal(
    pickle_model: Path, tiny_model_dir: Path
):
    source = resolve_model_source(ModelSpec(path=str(pickle_model), convert_pickle_weights=True))
    assert source.kind == "pickle"

    folder = prepare_model_folder(source, ListReporter())

    assert folder.parent == cache_dir() / "pickle" and len(folder.name) == 16
    names = {path.name for path in folder.iterdir()}
    assert not any(name.endswith((".bin", ".pt", ".pth")) for name in names), names
    assert {"model.safetensors.index.json", "config.json", "tokenizer.json"} <= names
    assert json.loads((folder / CONVERSION_MARKER).read_text())["kind"] == "pickle"
    original = _state_dict(tiny_model_dir)
    converted = AutoModelForCausalLM.from_pretrained(str(folder), use_safetensors=True)
    state = converted.state_dict()
    assert set(original) <= set(state)
    for name, value in original.items():
        assert torch.equal(state[name], value), name

    (entry,) = _audit("pickle_converted")
    shard = pickle_model / "pytorch_model-00001-of-00002.bin"
    assert entry["details"]["sources"][shard.name]["sha256"] == sha256_file(shard)
    assert "training_args.bin" not in entry["details"]["sources"]
    outputs = entry["details"]["outputs"]
    assert set(outputs) == {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}
    for name, value in outputs.items():
        assert value["sha256"] == sha256_file(folder / name)
    assert entry["details"]["folder"] == str(folder)
    assert verify_log().intact

    # The second time the finished conversion is reused, and nothing new is audited.
    marker_time = (folder / CONVERSION_MARKER).stat().st_mtime_ns
    assert prepare_model_folder(source) == folder
    assert (folder / CONVERSION_MARKER).stat().st_mtime_ns == marker_time
    assert len(_audit("pickle_converted")) == 1


def test_a_malicious_pickle_is_refused_without_running(pickle_model: Path, tmp_path: Path):
    # The payload is real: plain unpickling runs it.
    proof = tmp_path / "proof-it-would-run"
    pickle.loads(pickle.dumps(RunsCodeWhenUnpickled(proof)))
    assert proof.exists()

    marker = tmp_path / "code-ran"
    torch.save(RunsCodeWhenUnpickled(marker), pickle_model / "pytorch_model-00002-of-00002.bin")
    source = resolve_model_source(ModelSpec(path=str(pickle_model), convert_pickle_weights=True))

    with pytest.raises(ModelError) as caught:
        prepare_model_folder(source)

    assert not marker.exists()
    assert "pytorch_model-00002-of-00002.bin holds more than weights" in caught.value.message
    assert "ran nothing from it" in caught.value.message
    assert "Traceback" not in caught.value.user_message()
    assert not [path for path in (cache_dir() / "pickle").iterdir()]
    assert not _audit("pickle_converted")


def test_tensors_sharing_memory_are_written_separately(tmp_path: Path):
    shared = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    torch.save(
        {"embed.weight": shared, "head.weight": shared, "half": shared[1:]},
        tmp_path / "pytorch_model.bin",
    )
    out = tmp_path / "out"
    out.mkdir()
    write_safetensors_copy(tmp_path, [tmp_path / "pytorch_model.bin"], out, lambda n: True)
    written = load_file(str(out / "model.safetensors"))
    assert torch.equal(written["embed.weight"], shared)
    assert torch.equal(written["head.weight"], shared)
    assert torch.equal(written["half"], shared[1:])


# --- the model's own code -----------------------------------------------------------------

_CUSTOM_MODELING = """
from pathlib import Path
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast


class TinyCustomConfig(LlamaConfig):
    model_type = "enclave-tiny-custom"


class TinyCustomForCausalLM(LlamaForCausalLM):
    config_class = TinyCustomConfig

    def __init__(self, config):
        super().__init__(config)
        Path({model_marker!r}).write_text("model code ran")


class TinyCustomTokenizer(PreTrainedTokenizerFast):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        Path({tokenizer_marker!r}).write_text("tokenizer code ran")
"""


@pytest.fixture
def custom_code_model(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The tiny model turned into one that needs its own code: config.json and
    tokenizer_config.json have auto_map entries pointing at modeling_tiny.py, whose
    classes write marker files when they are built."""
    import transformers.dynamic_module_utils as dynamic

    # transformers copies the model's code into its modules cache: keep it in tmp_path.
    monkeypatch.setattr(dynamic, "HF_MODULES_CACHE", str(tmp_path / "hf-modules"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    folder = Path(shutil.copytree(tiny_model_dir, tmp_path / "custom-model"))
    markers = {"model": tmp_path / "model-code-ran", "tokenizer": tmp_path / "tok-code-ran"}
    (folder / "modeling_tiny.py").write_text(
        _CUSTOM_MODELING.format(
            model_marker=str(markers["model"]), tokenizer_marker=str(markers["tokenizer"])
        )
    )
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "enclave-tiny-custom"
    config["architectures"] = ["TinyCustomForCausalLM"]
    config["auto_map"] = {
        "AutoConfig": "modeling_tiny.TinyCustomConfig",
        "AutoModelForCausalLM": "modeling_tiny.TinyCustomForCausalLM",
    }
    (folder / "config.json").write_text(json.dumps(config))
    tokenizer_config = json.loads((folder / "tokenizer_config.json").read_text())
    tokenizer_config["auto_map"] = {"AutoTokenizer": [None, "modeling_tiny.TinyCustomTokenizer"]}
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    yield folder, markers
    for name in [name for name in sys.modules if name.startswith("transformers_modules")]:
        del sys.modules[name]


def test_a_model_with_its_own_code_is_refused_and_nothing_of_it_runs(custom_code_model):
    folder, markers = custom_code_model

    with pytest.raises(RemoteCodeRefused) as caught:
        resolve_model_source(ModelSpec(path=str(folder)))
    message = caught.value.message
    assert "auto_map" in message and "modeling_tiny.TinyCustomForCausalLM" in message
    assert "enclave-tiny-custom" in message  # the unknown model type
    assert "modeling_tiny.py" in message and "with your rights" in message
    assert "model.allow_remote_code" in caught.value.hint
    assert caught.value.files == ("modeling_tiny.py",) and caught.value.can_allow

    # Given a path alone, the facts can be read, but every loader still refuses.
    source = resolve_model_source(str(folder))
    assert source.remote_code == ("modeling_tiny.py",) and not source.trust_remote_code
    with pytest.raises(RemoteCodeRefused):
        load_tokenizer(folder)
    with pytest.raises(RemoteCodeRefused):
        load_for_training(folder, "lora", RunConfig().method, "cpu", torch.float32, False)
    assert not any(marker.exists() for marker in markers.values())
    assert not _audit("remote_code_allowed")


def test_allowed_code_runs_for_model_and_tokenizer_with_a_warning_and_audit(custom_code_model):
    folder, markers = custom_code_model
    source = resolve_model_source(ModelSpec(path=str(folder), allow_remote_code=True))
    assert source.trust_remote_code
    reporter = ListReporter()

    prepared_folder = prepare_model_folder(source, reporter)
    assert not any(marker.exists() for marker in markers.values())  # announced first

    (warning,) = reporter.of_type(WarningRaised)
    assert "modeling_tiny.py" in warning.message and "with your rights" in warning.message
    (entry,) = _audit("remote_code_allowed")
    assert entry["details"]["files"] == {
        "modeling_tiny.py": sha256_file(folder / "modeling_tiny.py")
    }
    prepared = load_for_training(
        prepared_folder,
        "lora",
        RunConfig().method,
        "cpu",
        torch.float32,
        False,
        trust_remote_code=source.trust_remote_code,
    )
    assert markers["model"].exists() and markers["tokenizer"].exists()
    assert type(prepared.tokenizer).__name__ == "TinyCustomTokenizer"
    assert prepared.trainable_parameters > 0


@pytest.mark.parametrize("case", ["unknown_model_type", "python_file"])
def test_other_signs_of_own_code_are_refused(case: str, tiny_model_dir: Path, tmp_path: Path):
    folder = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    if case == "unknown_model_type":
        config = json.loads((folder / "config.json").read_text())
        config["model_type"] = "made-up-architecture"
        (folder / "config.json").write_text(json.dumps(config))
    else:
        (folder / "helpers").mkdir()
        (folder / "helpers" / "setup_model.py").write_text("print('hello')\n")

    with pytest.raises(RemoteCodeRefused) as caught:
        resolve_model_source(ModelSpec(path=str(folder)))

    if case == "unknown_model_type":
        assert "'made-up-architecture'" in caught.value.message
        # Allowing code would not help: there is none in the folder to run.
        assert not caught.value.can_allow and "never downloads" in caught.value.hint
        with pytest.raises(RemoteCodeRefused):
            resolve_model_source(ModelSpec(path=str(folder), allow_remote_code=True))
    else:
        assert "helpers/setup_model.py" in caught.value.message
        assert caught.value.can_allow
        allowed = resolve_model_source(ModelSpec(path=str(folder), allow_remote_code=True))
        assert allowed.remote_code == ("helpers/setup_model.py",)


def test_an_ordinary_model_needs_no_opt_in(tiny_model_dir: Path):
    source = resolve_model_source(ModelSpec(path=str(tiny_model_dir)))
    assert source.kind == "folder" and source.remote_code == () and not source.trust_remote_code
    reporter = ListReporter()
    assert prepare_model_folder(source, reporter) == tiny_model_dir.resolve()
    assert not reporter.events and not AuditLog().entries()


# --- the model_opened audit entry -------------------------------------------------------


def test_opening_the_base_model_is_audited_with_the_manifest_hashes(
    tiny_config: RunConfig, tiny_model_dir: Path
):
    from desktop_app.core.run_folder import RunFolder
    from desktop_app.engine.generation import load_comparison

    tiny_config.hyperparameters.max_steps = 2
    result = run_training(tiny_config, ListReporter())
    assert result.status == "finished", result.message
    folder = RunFolder(result.run_dir)
    weights = folder.read_manifest()["model"]["weights"]
    expected = {str((tiny_model_dir / "model.safetensors").resolve())}
    assert set(weights) == expected

    # For training (train.py calls this once the manifest holds the hashes) ...
    audit_model_opened(folder, resolve_model_source(tiny_config.model), tiny_model_dir)
    # ... and for evaluation, where loading the run's models records it.
    load_comparison(result.run_dir)

    entries = [e for e in _audit("model_opened") if e["run"] == str(result.run_dir)]
    assert len(entries) >= 2
    for entry in entries[-2:]:
        assert entry["details"]["model"] == str(tiny_model_dir)
        (digest,) = [value["sha256"] for value in entry["details"]["weights"].values()]
        assert digest == sha256_file(tiny_model_dir / "model.safetensors")
        assert "manifest" in entry["details"]["hashes"]


# --- checkpoints --------------------------------------------------------------------------


class _CancelAt:
    def __init__(self, step: int, stop: threading.Event) -> None:
        self.step, self.stop = step, stop

    def report(self, event) -> None:
        if isinstance(event, StepMetrics) and event.step == self.step:
            self.stop.set()


def _cancelled_run(config: RunConfig) -> Path:
    config.hyperparameters.max_steps = 4
    config.hyperparameters.save_every_steps = 0
    stop = threading.Event()
    result = run_training(config, _CancelAt(2, stop), stop)
    assert result.status == "cancelled", result.message
    return result.run_dir


def test_a_checkpoint_file_replaced_by_a_malicious_pickle_is_refused_on_resume(
    tiny_config: RunConfig, tmp_path: Path
):
    run_dir = _cancelled_run(tiny_config)
    checkpoint = run_dir / "checkpoints" / "checkpoint-2"
    check_checkpoint_state(checkpoint)  # what Enclave wrote passes
    assert {"optimizer.pt", "scheduler.pt", "rng_state.pth"} <= {
        path.name for path in checkpoint.iterdir()
    }

    for name in ("rng_state.pth", "optimizer.pt"):
        marker = tmp_path / f"code-ran-{name}"
        original = (checkpoint / name).read_bytes()
        torch.save(RunsCodeWhenUnpickled(marker), checkpoint / name)

        with pytest.raises(CheckpointRefused) as caught:
            check_checkpoint_state(checkpoint)
        assert f"{name} holds more than training state" in caught.value.message
        assert "ran nothing" in caught.value.message

        # Resuming refuses it before training starts: nothing from the file runs.
        with pytest.raises(CheckpointRefused, match="holds more than training state"):
            run_training(RunConfig(), ListReporter(), resume_dir=run_dir)
        assert not marker.exists()
        (checkpoint / name).write_bytes(original)


def test_forcing_weights_only_loads_keeps_resume_working(
    tiny_config: RunConfig, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    monkeypatch.setenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "0")
    force_weights_only_loads()
    assert os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] == "1"
    assert "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD" not in os.environ

    run_dir = _cancelled_run(tiny_config)
    check_checkpoint_state(run_dir / "checkpoints" / "checkpoint-2")
    resumed = run_training(RunConfig(), ListReporter(), resume_dir=run_dir)
    assert resumed.status == "finished", resumed.message
    with pytest.raises(pickle.UnpicklingError):
        torch.load(
            run_dir / "checkpoints" / "checkpoint-2" / "training_args.bin", weights_only=False
        )


# --- permissions --------------------------------------------------------------------------


@pytest.fixture
def private_umask():
    """The process umask the app sets at start-up (restrict_process_umask)."""
    previous = os.umask(PRIVATE_UMASK)
    yield
    os.umask(previous)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_real_run_folder_is_private_throughout(tiny_config: RunConfig, private_umask):
    tiny_config.hyperparameters.max_steps = 4
    tiny_config.output.dir = str(Path(tiny_config.output.dir) / "new" / "runs")
    result = run_training(tiny_config, ListReporter())
    assert result.status == "finished", result.message

    checked = 0
    for folder, _subfolders, files in os.walk(result.run_dir):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
        for name in files:
            mode = stat.S_IMODE(os.stat(Path(folder) / name).st_mode)
            assert mode == 0o600, (Path(folder) / name, oct(mode))
            checked += 1
    assert checked > 10
    assert stat.S_IMODE(os.stat(result.run_dir.parent).st_mode) == 0o700
