"""Rendering records with the chat template and masking the prompt."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from desktop_app.data.records import Message, TrainingRecord
from desktop_app.engine.loading import load_tokenizer
from desktop_app.engine.sft_batches import PaddingCollator
from desktop_app.engine.sft_data import (
    FALLBACK_CHAT_TEMPLATE,
    IGNORE_INDEX,
    EncodingReport,
    encode_record,
    encode_records,
)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


def chat(*turns: tuple[str, str], line: int = 1) -> TrainingRecord:
    return TrainingRecord(
        source="t.jsonl", line=line, messages=tuple(Message(role, text) for role, text in turns)
    )


def learned_text(tokenizer, example) -> str:
    return tokenizer.decode(
        [
            t
            for t, label in zip(example.input_ids, example.labels, strict=True)
            if label != IGNORE_INDEX
        ]
    )


def test_only_the_answer_is_learned(tokenizer):
    record = chat(("system", "Be brief."), ("user", "Capital of France?"), ("assistant", "Paris."))
    example = encode_record(record, tokenizer, 128, False, EncodingReport())
    assert learned_text(tokenizer, example) == "Paris.<|im_end|>\n"
    assert tokenizer.decode(example.input_ids).startswith("<|im_start|>system\nBe brief.")


def test_every_assistant_turn_is_learned_in_multi_turn_chats(tokenizer):
    record = chat(
        ("user", "Hi"), ("assistant", "Hello."), ("user", "Bye"), ("assistant", "Goodbye.")
    )
    example = encode_record(record, tokenizer, 128, False, EncodingReport())
    assert learned_text(tokenizer, example) == "Hello.<|im_end|>\nGoodbye.<|im_end|>\n"


def test_train_on_prompt_learns_everything(tokenizer):
    record = chat(("user", "Capital of France?"), ("assistant", "Paris."))
    example = encode_record(record, tokenizer, 128, True, EncodingReport())
    assert all(label != IGNORE_INDEX for label in example.labels)


def test_plain_text_learns_every_token_and_ends_with_eos(tokenizer):
    record = TrainingRecord(source="t.txt", line=3, text="The claim was approved.")
    example = encode_record(record, tokenizer, 128, False, EncodingReport())
    assert example.labels == example.input_ids
    assert tokenizer.decode(example.input_ids).endswith("<|im_end|>")


def test_truncation_is_reported_and_empty_answers_are_not_trained(tokenizer):
    long_question = "What is the capital of France? " * 20
    records = [
        chat(("user", "Short?"), ("assistant", "Yes."), line=1),
        chat(("user", long_question), ("assistant", "Paris."), line=2),
    ]
    examples, report = encode_records(records, tokenizer, 24, False)
    assert [e.line for e in examples] == [1]
    assert report.no_answer_left_lines == [2]
    assert report.truncated_lines == [2]
    assert all(len(e.input_ids) <= 24 for e in examples)


def test_model_without_chat_template_gets_the_fallback(tiny_model_dir: Path, tmp_path: Path):
    import shutil

    folder = tmp_path / "no-template"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "chat_template.jinja").unlink()
    tokenizer, notes = load_tokenizer(folder)
    assert tokenizer.chat_template == FALLBACK_CHAT_TEMPLATE
    assert notes and "no chat template" in notes[0]
    example = encode_record(
        chat(("user", "Q?"), ("assistant", "A.")), tokenizer, 128, False, EncodingReport()
    )
    assert learned_text(tokenizer, example).startswith("A.")


def test_collator_pads_right_and_masks_padding():
    batch = PaddingCollator(pad_token_id=0)(
        [
            {"input_ids": [5, 6, 7], "labels": [-100, 6, 7]},
            {"input_ids": [8], "labels": [8]},
        ]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_start_token_is_added_once_when_the_tokenizer_expects_it(tiny_model_dir: Path):
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    tokenizer.add_bos_token = True
    record = chat(("user", "Capital of France?"), ("assistant", "Paris."))
    example = encode_record(record, tokenizer, 128, False, EncodingReport())
    # The template already starts with the start token (<|im_start|> here): not doubled.
    assert example.input_ids[0] == tokenizer.bos_token_id
    assert example.input_ids[1] != tokenizer.bos_token_id
    assert learned_text(tokenizer, example) == "Paris.<|im_end|>\n"
    plain = encode_record(
        TrainingRecord("t.txt", 1, text="Claim approved."), tokenizer, 64, False, EncodingReport()
    )
    assert plain.input_ids[0] == tokenizer.bos_token_id
    assert plain.input_ids[1] != tokenizer.bos_token_id
