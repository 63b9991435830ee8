"""The default GPU path: QLoRA with bf16 (or fp16) compute and gradient checkpointing.

Marked ``gpu``; skipped cleanly where CUDA is not available (as on CI here).
"""

from __future__ import annotations

import json

import bitsandbytes as bnb
import pytest
import torch

from desktop_app.core.config import RunConfig
from desktop_app.core.events import ListReporter, RunStarted, StepMetrics
from desktop_app.engine.train import run_training

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize("bits", [4, 8])
def test_default_method_on_gpu_is_qlora(bits: int, tiny_config: RunConfig):
    tiny_config.method.name = "auto"
    tiny_config.method.quantization_bits = bits
    reporter = ListReporter()
    result = run_training(tiny_config, reporter, keep_model=True)
    assert result.status == "finished", result.message
    started = reporter.of_type(RunStarted)[0]
    assert (started.method, started.device) == ("qlora", "cuda")
    q_proj = result.model.get_base_model().model.layers[0].self_attn.q_proj.base_layer
    expected = bnb.nn.Linear4bit if bits == 4 else bnb.nn.Linear8bitLt
    assert isinstance(q_proj, expected)
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    supports_bf16 = torch.cuda.is_bf16_supported()
    assert manifest["compute_dtype"] == ("bfloat16" if supports_bf16 else "float16")
    losses = [e.loss for e in reporter.of_type(StepMetrics)]
    assert losses[-1] < losses[0]
    assert all(e.memory_bytes and e.memory_bytes > 0 for e in reporter.of_type(StepMetrics))
