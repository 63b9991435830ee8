"""Answers from a finished run's base and fine-tuned models, for comparing them.

:func:`load_comparison` loads the base model the way training did and the trained
adapter (or whole model) on top; :func:`generate` answers one prompt, laid out the way
training laid out its examples. Plain functions and data, no Qt. torch, transformers
and peft are imported by the functions that load and generate, so the settings and
answers can be used (by the window, say) without loading them.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from desktop_app.core.config import ModelSpec, RunConfig
from desktop_app.core.errors import ConfigError, ModelError, UserInputError
from desktop_app.core.manifest import file_hashes
from desktop_app.core.run_folder import RunFolder
from desktop_app.engine import quiet_library_output
from desktop_app.engine.builders import quantization_config
from desktop_app.engine.finished_run import (
    ADAPTER_METHODS,
    FinishedRun,
    PromptStyle,
    open_finished_run,
)
from desktop_app.engine.loading import load_tokenizer
from desktop_app.engine.model_files import (
    check_remote_code,
    model_weight_files,
    prepare_model_folder,
    resolve_model_source,
)
from desktop_app.engine.safe_loading import record_model_opened

if TYPE_CHECKING:
    import torch

#: A question, or a conversation so far (``role``/``content`` dicts) ending on a user turn.
Prompt = str | Sequence[Mapping[str, str]]
#: Which of the two models answers.
Side = Literal["base", "tuned"]
#: ``end``: the model ended its answer; ``length``: max_new_tokens was reached;
#: ``cancelled``: the stop event was set.
FinishReason = Literal["end", "length", "cancelled"]


@dataclass(frozen=True)
class GenerationSettings:
    """How answers are generated. Greedy (deterministic) unless ``sample`` is on.

    Args:
        max_new_tokens: The longest answer, in tokens.
        sample: Pick each next token at random by its probability instead of always
            the most likely one.
        temperature: When sampling: below 1 more predictable, above 1 more varied.
        top_p: When sampling, choose among the most likely tokens holding this share.
        seed: When sampling, the same seed gives the same answer.
    """

    max_new_tokens: int = 200
    sample: bool = False
    temperature: float = 0.7
    top_p: float = 0.9
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigError("max_new_tokens", "must be at least 1.")
        if self.temperature <= 0:
            raise ConfigError("temperature", "must be above 0 (for example 0.7).")
        if not 0 < self.top_p <= 1:
            raise ConfigError("top_p", "must be above 0 and at most 1 (for example 0.9).")


@dataclass(frozen=True)
class Answer:
    """One model's answer: only the new text, never the prompt."""

    text: str
    new_tokens: int
    finish_reason: FinishReason


# --- loading ----------------------------------------------------------------------------


@dataclass
class Comparison:
    """The base and the fine-tuned model of one run, loaded once for many prompts.

    For LoRA and QLoRA runs the base model is loaded once and the adapter sits on top;
    the base answers with the adapter switched off. For full and freeze runs the two
    are separate models.
    """

    run: FinishedRun
    tokenizer: Any
    tuned: Any
    #: The separate base model (full and freeze runs); None for adapter runs.
    separate_base: Any = None

    @contextmanager
    def model(self, side: Side) -> Iterator[Any]:
        """The model that answers for ``side``, with the adapter off for the base."""
        if side == "tuned":
            yield self.tuned
        elif self.separate_base is not None:
            yield self.separate_base
        else:
            with self.tuned.disable_adapter():
                yield self.tuned

    def answer(
        self,
        side: Side,
        prompt: Prompt,
        settings: GenerationSettings | None = None,
        stop_event: threading.Event | None = None,
    ) -> Answer:
        """One answer from the base or the fine-tuned model (see :func:`generate`)."""
        with self.model(side) as model:
            return generate(
                model, self.tokenizer, prompt, settings, stop_event, style=self.run.prompt_style
            )


def free_model_memory() -> None:
    """Give back the memory of models no longer referenced (GPU cache included)."""
    gc.collect()
    # Without torch loaded no model was either: importing it here would only cost time.
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def inference_device() -> str:
    """``cuda`` when a GPU can be used, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _inference_dtype(device: str) -> torch.dtype:
    import torch

    # On the CPU float32 is the fast format (also for 4-bit layers: see builders).
    if device != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def run_model_spec(run: FinishedRun) -> ModelSpec:
    """The run's base model as its manifest records it, with the opt-ins of its
    configuration (both off when the configuration cannot be read)."""
    try:
        spec = RunFolder(run.run_dir).load_config().model
    except (UserInputError, OSError, ValueError):
        return ModelSpec(path=run.base_model)
    return dataclasses.replace(spec, path=run.base_model)


def _base_model_folder(run: FinishedRun) -> tuple[Path, bool]:
    """The base model's folder, checked against the sizes recorded when it was trained,
    and whether its own code may run (as the run allowed). The opening is recorded in
    the audit log (``model_opened``) with the weight hashes of the run's manifest."""
    source = resolve_model_source(run_model_spec(run))
    folder = prepare_model_folder(source)
    manifest = RunFolder(run.run_dir).read_manifest()
    recorded = manifest.get("model", {}).get("weights") or {}
    recorded_sizes = sorted(int(entry.get("bytes", -1)) for entry in recorded.values())
    current_sizes = sorted(path.stat().st_size for path in model_weight_files(folder))
    if recorded and recorded_sizes != current_sizes:
        raise ModelError(
            f"The base model's weight files in {folder} have changed since this run was "
            "trained, so the fine-tuned answers would not be what was trained.",
            "Put the original model back, or train again with the new one.",
        )
    record_model_opened(
        run.base_model,
        source.path,
        folder,
        recorded or file_hashes(model_weight_files(folder)),
        kind=source.kind,
        run=run.run_dir,
        hashes_from=(
            "the run's manifest (computed when training started; sizes checked now)"
            if recorded
            else "computed when the model was opened"
        ),
    )
    return folder, source.trust_remote_code


def _load_causal_model(
    folder: Path, device: str, dtype: torch.dtype, quantization: Any, trust_remote_code: bool
) -> Any:
    from transformers import AutoModelForCausalLM

    trusted = check_remote_code(folder, trust_remote_code).needed
    model = AutoModelForCausalLM.from_pretrained(
        str(folder),
        dtype=dtype,
        quantization_config=quantization,
        device_map={"": 0 if device == "cuda" else "cpu"},
        trust_remote_code=trusted,
        use_safetensors=True,
        low_cpu_mem_usage=True,
    )
    model.config.use_cache = True  # training saves it switched off
    return model.eval()


def _quantization(run: FinishedRun, dtype: torch.dtype, device: str) -> Any:
    if run.method != "qlora":
        return None
    config: RunConfig = RunFolder(run.run_dir).load_config()
    try:
        return quantization_config("qlora", config.method, dtype, device)
    except ConfigError:
        raise ModelError(
            "This run was trained with 8-bit QLoRA, which needs an NVIDIA GPU to load.",
            "Try the model on a computer with an NVIDIA GPU.",
        ) from None


def load_comparison(run: FinishedRun | str | Path, *, device: str | None = None) -> Comparison:
    """Load a finished run's base model and its trained weights, ready to answer.

    The base model is loaded as training loaded it (QLoRA: 4-bit with the run's
    quantisation settings), in eval mode. Both sides share the tokenizer saved with
    the trained model, so they see exactly the same prompt.

    Args:
        run: A :class:`FinishedRun`, a run folder, or its adapter/model folder.
        device: ``cuda`` or ``cpu``; by default the GPU when there is one.

    Raises:
        UserInputError: the run or its base model cannot be used (plain message).
    """
    quiet_library_output()
    if not isinstance(run, FinishedRun):
        run = open_finished_run(run)
    device = device or inference_device()
    dtype = _inference_dtype(device)
    base_folder, trusted = _base_model_folder(run)
    tokenizer, _ = load_tokenizer(run.output_path, trust_remote_code=trusted)
    quantization = _quantization(run, dtype, device)
    base = _load_causal_model(base_folder, device, dtype, quantization, trusted)
    if run.method in ADAPTER_METHODS:
        from peft import PeftModel

        tuned = PeftModel.from_pretrained(base, str(run.output_path), is_trainable=False)
        return Comparison(run, tokenizer, tuned.eval())
    tuned = _load_causal_model(run.output_path, device, dtype, None, trusted)
    return Comparison(run, tokenizer, tuned, separate_base=base)


# --- generating -------------------------------------------------------------------------


def render_prompt(tokenizer: Any, prompt: Prompt, style: PromptStyle = "chat") -> str:
    """The text the model sees for ``prompt``, laid out exactly as training laid out
    the start of an example (see :func:`desktop_app.engine.sft_data.render_record`):
    the chat template with the assistant's turn opened, and the start token where the
    tokenizer adds one.

    Args:
        tokenizer: The run's tokenizer.
        prompt: A question, or a conversation so far (``role``/``content`` dicts
            ending with the user's turn), for chat-style runs.
        style: ``chat`` for the chat template, ``plain`` for plain-text runs.
    """
    if style == "chat":
        messages = (
            [{"role": "user", "content": prompt}]
            if isinstance(prompt, str)
            else [dict(message) for message in prompt]
        )
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    elif isinstance(prompt, str):
        text = prompt
    else:
        text = "".join(message["content"] for message in prompt)
    bos = tokenizer.bos_token
    if getattr(tokenizer, "add_bos_token", False) and bos and not text.startswith(bos):
        text = bos + text
    return str(text)


def _end_token_ids(tokenizer: Any, model: Any) -> list[int]:
    ids = {tokenizer.eos_token_id}
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    return sorted(token for token in ids if token is not None)


def _generation_config(settings: GenerationSettings, tokenizer: Any, ends: list[int]) -> Any:
    from transformers import GenerationConfig

    values: dict[str, Any] = {
        "max_new_tokens": settings.max_new_tokens,
        "do_sample": settings.sample,
        "num_beams": 1,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": ends,
        "use_cache": True,
    }
    if settings.sample:
        values.update(temperature=settings.temperature, top_p=settings.top_p, top_k=0)
    return GenerationConfig(**values)


def generate(
    model: Any,
    tokenizer: Any,
    prompt: Prompt,
    settings: GenerationSettings | None = None,
    stop_event: threading.Event | None = None,
    *,
    style: PromptStyle = "chat",
) -> Answer:
    """Answer ``prompt`` with ``model``; the answer holds only the new text.

    Args:
        model: A causal language model (or a PEFT model), on its device.
        tokenizer: The tokenizer the model was trained with.
        prompt: What the user asks, or a conversation so far ending with the user's
            turn (chat-style runs).
        settings: Greedy with at most 200 new tokens unless given.
        stop_event: Set it (from any thread) to stop after the current token.
        style: ``chat`` to use the chat template, ``plain`` for plain-text runs.
    """
    return generate_batch(model, tokenizer, [prompt], settings, stop_event, style=style)[0]


def generate_batch(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Prompt],
    settings: GenerationSettings | None = None,
    stop_event: threading.Event | None = None,
    *,
    style: PromptStyle = "chat",
) -> list[Answer]:
    """Answer several prompts at once (padded on the left), one :class:`Answer` each.

    Greedy answers are the same as :func:`generate` gives one prompt at a time; sampled
    ones are repeatable for the same batch and seed.

    Args:
        model: A causal language model (or a PEFT model), on its device.
        tokenizer: The tokenizer the model was trained with.
        prompts: Questions or conversations so far (see :data:`Prompt`).
        settings: Greedy with at most 200 new tokens unless given.
        stop_event: Set it (from any thread) to stop after the current token; the
            answers so far come back with finish reason ``cancelled``.
        style: ``chat`` to use the chat template, ``plain`` for plain-text runs.
    """
    settings = settings or GenerationSettings()
    stop_event = stop_event or threading.Event()
    if not prompts:
        return []
    if stop_event.is_set():
        return [Answer("", 0, "cancelled") for _ in prompts]
    import torch
    from transformers import StoppingCriteriaList

    from desktop_app.engine.generation_stop import StopOnEvent

    texts = [render_prompt(tokenizer, prompt, style) for prompt in prompts]
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # new tokens must follow every prompt directly
    try:
        encoded = tokenizer(texts, return_tensors="pt", add_special_tokens=False, padding=True)
    finally:
        tokenizer.padding_side = padding_side
    device = next(model.parameters()).device
    input_ids = encoded["input_ids"].to(device)
    ends = _end_token_ids(tokenizer, model)
    model.eval()
    if settings.sample:
        torch.manual_seed(settings.seed)
    with torch.inference_mode():
        output = model.generate(
            input_ids=input_ids,
            attention_mask=encoded["attention_mask"].to(device),
            generation_config=_generation_config(settings, tokenizer, ends),
            stopping_criteria=StoppingCriteriaList([StopOnEvent(stop_event)]),
        )
    cancelled = stop_event.is_set()
    return [
        _answer_from(row[input_ids.shape[1] :].tolist(), ends, tokenizer, cancelled)
        for row in output
    ]


def _answer_from(new_ids: list[int], ends: list[int], tokenizer: Any, cancelled: bool) -> Answer:
    """One row of a batch: up to its first end token (the rest is padding)."""
    reason: FinishReason = "cancelled" if cancelled else "length"
    end = next((index for index, token in enumerate(new_ids) if token in ends), None)
    if end is not None:
        new_ids, reason = new_ids[:end], "end"
    text = tokenizer.decode(new_ids, skip_special_tokens=True)
    return Answer(str(text), len(new_ids), reason)
