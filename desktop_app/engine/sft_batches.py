"""The torch side of the encoded examples: a dataset for the Trainer and the collator
that pads a batch into tensors.

Kept apart from :mod:`desktop_app.engine.sft_data` so that encoding and the token
statistics need no torch; modules import this one inside the functions that train or
measure a loss, so opening the window does not load torch.
"""

from __future__ import annotations

import torch

from desktop_app.engine.sft_data import IGNORE_INDEX, EncodedExample


class EncodedDataset(torch.utils.data.Dataset):
    """A list of encoded examples as a torch dataset of plain lists."""

    def __init__(self, examples: list[EncodedExample]) -> None:
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        example = self.examples[index]
        return {"input_ids": example.input_ids, "labels": example.labels}


class PaddingCollator:
    """Pads a batch on the right to its longest example."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        longest = max(len(item["input_ids"]) for item in batch)
        input_ids, labels, attention = [], [], []
        for item in batch:
            padding = longest - len(item["input_ids"])
            input_ids.append(item["input_ids"] + [self.pad_token_id] * padding)
            labels.append(item["labels"] + [IGNORE_INDEX] * padding)
            attention.append([1] * len(item["input_ids"]) + [0] * padding)
        return {
            "input_ids": torch.tensor(input_ids, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long),
            "attention_mask": torch.tensor(attention, dtype=torch.long),
        }
