"""Cancelling generation: a stopping criterion that checks the user's stop event.

A subclass of transformers' StoppingCriteria, so it needs transformers (and torch) when
it is defined; :mod:`desktop_app.engine.generation` imports it when it generates, which
keeps opening the window free of both.
"""

from __future__ import annotations

import threading
from typing import Any

import torch
from transformers import StoppingCriteria


class StopOnEvent(StoppingCriteria):
    """Ends generation after the current token once ``event`` is set (cancel)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> Any:
        return torch.full((input_ids.shape[0],), self.event.is_set(), device=input_ids.device)
