"""How long the records are in tokens, measured the way training will see them.

Each record is rendered exactly as :func:`desktop_app.engine.sft_data.encode_record`
renders it (the model's chat template, the start token where the tokenizer expects it),
and the rendered texts are tokenised in batches by the fast tokenizer. The figures say
how many records ``max_length`` will cut and how many tokens a pass over the data trains.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import statistics
from array import array
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from desktop_app.data.records import TrainingRecord
from desktop_app.engine.sft_data import RenderedRecord, listed_lines, render_record

#: Records tokenised per call to the tokenizer: large enough for the batch call to pay,
#: small enough that memory does not grow with the file.
BATCH_SIZE = 1024
#: About how many bars the histogram has.
HISTOGRAM_BINS = 12
_BAR_WIDTH = 40


@dataclass(frozen=True)
class HistogramBin:
    """Records whose length in tokens is at least ``lower`` and below ``upper``.

    Args:
        lower: Smallest length in the bin.
        upper: Smallest length above the bin.
        count: Records in the bin.
    """

    lower: int
    upper: int
    count: int


@dataclass(frozen=True)
class TokenStats:
    """Token lengths of a set of records.

    Args:
        count: Records measured.
        max_length: The limit the records were compared with.
        total_tokens: Tokens training uses after cutting to ``max_length``, over the
            records that keep an answer (as ``EncodingReport.total_tokens``).
        trainable_tokens: Of those, tokens that count towards the loss (as
            ``EncodingReport.trainable_tokens``).
        min_tokens: Shortest record, in tokens, before cutting.
        mean_tokens: Mean length before cutting.
        median_tokens: Median length before cutting.
        p95_tokens: 95th percentile of the length before cutting (nearest rank).
        max_tokens: Longest record before cutting.
        share_truncated: Share of the records longer than ``max_length`` (0 to 1).
        truncated_lines: Lines of the records longer than ``max_length``.
        no_answer_left_lines: Lines of the records that keep no answer token after
            cutting; training skips them.
        masking_fell_back: The chat template cannot be split into prompt and answer, so
            whole conversations are learned.
        histogram: Counts of records by length before cutting, in bins of equal width
            on round numbers, from the shortest record to the longest.
    """

    count: int
    max_length: int
    total_tokens: int
    trainable_tokens: int
    min_tokens: int
    mean_tokens: float
    median_tokens: float
    p95_tokens: int
    max_tokens: int
    share_truncated: float
    truncated_lines: tuple[int, ...]
    no_answer_left_lines: tuple[int, ...]
    masking_fell_back: bool
    histogram: tuple[HistogramBin, ...]

    def to_json(self) -> dict[str, Any]:
        """The figures as plain JSON data (for ``json.dumps``)."""
        return {
            "count": self.count,
            "max_length": self.max_length,
            "total_tokens": self.total_tokens,
            "trainable_tokens": self.trainable_tokens,
            "min_tokens": self.min_tokens,
            "mean_tokens": self.mean_tokens,
            "median_tokens": self.median_tokens,
            "p95_tokens": self.p95_tokens,
            "max_tokens": self.max_tokens,
            "share_truncated": self.share_truncated,
            "truncated_lines": list(self.truncated_lines),
            "no_answer_left_lines": list(self.no_answer_left_lines),
            "masking_fell_back": self.masking_fell_back,
            "histogram": [asdict(bucket) for bucket in self.histogram],
        }


def _tokens_starting_before(encoding: Any, char: int, text_length: int) -> int:
    """How many tokens of ``encoding`` start before character ``char``.

    Uses the encoding's own lookups instead of building its whole offset list, which is
    what makes counting learned tokens cheap. Token offsets never go backwards.
    """
    if char >= text_length:
        return len(encoding)
    token = encoding.char_to_token(char)
    if token is None:  # a character no token covers (dropped by the normaliser)
        return sum(1 for begin, _ in encoding.offsets if begin < char)
    begin, _ = encoding.token_to_chars(token)
    return token if begin >= char else token + 1


def _trained_token_count(encoding: Any, rendered: RenderedRecord, kept: int) -> int:
    """Learned tokens among the first ``kept``, not counting the first token (it has no
    prediction), as ``encode_record`` counts them."""
    count = 0
    length = len(rendered.text)
    for start, end in rendered.trained_spans:
        first = min(max(_tokens_starting_before(encoding, start, length), 1), kept)
        after = min(max(_tokens_starting_before(encoding, end, length), 1), kept)
        count += after - first
    return count


def _nice_width(span: int, bins: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... at least ``span / bins``."""
    target = max(span / bins, 1)
    power = 10 ** math.floor(math.log10(target))
    for step in (1, 2, 5, 10):
        if step * power >= target:
            return int(step * power)
    return int(10 * power)  # pragma: no cover - the loop always returns


def length_histogram(lengths: Sequence[int], bins: int = HISTOGRAM_BINS) -> list[HistogramBin]:
    """Counts of ``lengths`` in about ``bins`` bins of a round width.

    The bins start at a multiple of the width at or below the shortest length and end
    with the bucket holding the longest, so there are at most ``bins + 1`` of them.
    """
    if not lengths:
        return []
    low, high = min(lengths), max(lengths)
    width = _nice_width(high - low + 1, bins)
    start = low // width * width
    counts = [0] * ((high - start) // width + 1)
    for length in lengths:
        counts[(length - start) // width] += 1
    return [
        HistogramBin(start + index * width, start + (index + 1) * width, count)
        for index, count in enumerate(counts)
    ]


def _encode_batch(tokenizer: Any, texts: list[str]) -> list[Any]:
    """The ``tokenizers.Encoding`` of each text, as ``tokenizer(text)`` would make it.

    The Rust tokenizer is called directly when it is set up as the call would set it up
    (no truncation, no padding, special tokens read the same way): the call would also
    convert every encoding to Python lists, which costs as much as the tokenising here.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if (
        backend is not None
        and backend.truncation is None
        and backend.padding is None
        and backend.encode_special_tokens == bool(getattr(tokenizer, "split_special_tokens", False))
    ):
        return list(backend.encode_batch(texts, add_special_tokens=False))
    encoded = tokenizer(
        texts, add_special_tokens=False, truncation=False, return_attention_mask=False
    )
    if encoded.encodings is None:
        raise TypeError("token_length_stats needs a fast tokenizer (one with tokenizer.json)")
    return list(encoded.encodings)


def _batches(records: Iterable[TrainingRecord], size: int) -> Iterable[list[TrainingRecord]]:
    iterator = iter(records)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


@dataclass
class _Tally:
    """The running figures while records are measured."""

    max_length: int
    lengths: array = field(default_factory=lambda: array("l"))
    truncated_lines: list[int] = field(default_factory=list)
    no_answer_left_lines: list[int] = field(default_factory=list)
    total_tokens: int = 0
    trainable_tokens: int = 0
    masking_fell_back: bool = False

    def add(self, record: TrainingRecord, rendered: RenderedRecord, encoding: Any) -> None:
        length = len(encoding)
        self.lengths.append(length)
        self.masking_fell_back |= rendered.masking_fell_back
        if length > self.max_length:
            self.truncated_lines.append(record.line)
        kept = min(length, self.max_length)
        trained = _trained_token_count(encoding, rendered, kept)
        if trained == 0:  # encode_record drops the record, so training never sees it
            self.no_answer_left_lines.append(record.line)
            return
        self.total_tokens += kept
        self.trainable_tokens += trained

    def stats(self) -> TokenStats:
        count = len(self.lengths)
        ordered = sorted(self.lengths)
        return TokenStats(
            count=count,
            max_length=self.max_length,
            total_tokens=self.total_tokens,
            trainable_tokens=self.trainable_tokens,
            min_tokens=ordered[0] if count else 0,
            mean_tokens=sum(ordered) / count if count else 0.0,
            median_tokens=statistics.median(ordered) if count else 0.0,
            p95_tokens=ordered[math.ceil(0.95 * count) - 1] if count else 0,
            max_tokens=ordered[-1] if count else 0,
            share_truncated=len(self.truncated_lines) / count if count else 0.0,
            truncated_lines=tuple(self.truncated_lines),
            no_answer_left_lines=tuple(self.no_answer_left_lines),
            masking_fell_back=self.masking_fell_back,
            histogram=tuple(length_histogram(ordered)),
        )


@contextlib.contextmanager
def _tokenizer_parallelism() -> Iterator[None]:
    """Let the Rust tokenizer use every core while counting (about a third faster on two
    cores); the process keeps it off otherwise, as set in core.offline, because training
    never needs it and it does not mix with forked worker processes."""
    before = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TOKENIZERS_PARALLELISM", None)
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = before


def token_length_stats(
    records: Iterable[TrainingRecord],
    tokenizer: Any,
    max_length: int,
    *,
    train_on_prompt: bool = False,
) -> TokenStats:
    """Measure the records in tokens, rendered and counted exactly as training does.

    Records are taken from ``records`` a batch at a time, so an iterator that reads a
    file as it goes keeps memory flat; only one length per record is kept. While the
    tokenizer (Rust, which lets go of the GIL) works on one batch in a helper thread, the
    next batch is read and rendered with the chat template (Python).

    Args:
        records: The records, in any iterable.
        tokenizer: A fast tokenizer with a chat template (see ``load_tokenizer``).
        max_length: The training ``max_length`` in tokens.
        train_on_prompt: Whether the prompt is learned too, as in training.

    Returns:
        The figures; lengths are before cutting to ``max_length``, token totals after.

    Raises:
        TypeError: the tokenizer is not a fast one.
    """
    tally = _Tally(max_length)
    with (
        _tokenizer_parallelism(),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="token-stats") as tokenizing,
    ):
        waiting: tuple[list[TrainingRecord], list[RenderedRecord], Future[list[Any]]] | None
        waiting = None
        for batch in _batches(records, BATCH_SIZE):
            rendered = [render_record(record, tokenizer, train_on_prompt) for record in batch]
            texts = [item.text for item in rendered]
            encoding = tokenizing.submit(_encode_batch, tokenizer, texts)
            if waiting is not None:
                _add_batch(tally, *waiting)
            waiting = (batch, rendered, encoding)
        if waiting is not None:
            _add_batch(tally, *waiting)
    return tally.stats()


def _add_batch(
    tally: _Tally,
    batch: list[TrainingRecord],
    rendered: list[RenderedRecord],
    encoding: Future[list[Any]],
) -> None:
    for record, item, encoded in zip(batch, rendered, encoding.result(), strict=True):
        tally.add(record, item, encoded)


def _records(count: int) -> str:
    return f"{count:,} record" + ("" if count == 1 else "s")


def _bin_note(bucket: HistogramBin, max_length: int) -> str:
    if bucket.lower > max_length:
        return "cut"
    if bucket.upper - 1 > max_length:
        return "partly cut"
    return ""


def format_token_stats(stats: TokenStats) -> str:
    """The figures as a few lines of text with a histogram of bars, for the terminal."""
    if stats.count == 0:
        return "No records to measure."
    lines = [
        f"Token lengths of {stats.count:,} records (max_length {stats.max_length:,}):",
        f"  shortest {stats.min_tokens:,}, median {stats.median_tokens:,.0f}, "
        f"mean {stats.mean_tokens:,.1f}, 95% at most {stats.p95_tokens:,}, "
        f"longest {stats.max_tokens:,}",
        f"  one pass trains on {stats.total_tokens:,} tokens, "
        f"{stats.trainable_tokens:,} of them counting towards the loss",
    ]
    truncated = len(stats.truncated_lines)
    if truncated:
        lines.append(
            f"  longer than max_length, so cut in training: {_records(truncated)} "
            f"({stats.share_truncated:.1%}), lines {listed_lines(list(stats.truncated_lines))}"
        )
    else:
        lines.append("  no record is longer than max_length")
    if stats.no_answer_left_lines:
        lines.append(
            "  no answer left after cutting, so skipped in training: "
            f"{_records(len(stats.no_answer_left_lines))}, "
            f"lines {listed_lines(list(stats.no_answer_left_lines))}"
        )
    if stats.masking_fell_back:
        lines.append(
            "  this model's chat template cannot be split into prompt and answer, so whole "
            "conversations count towards the loss"
        )
    lines.append("")
    widest = max(bucket.count for bucket in stats.histogram)
    edge_width = len(f"{stats.histogram[-1].upper - 1:,}")
    count_width = len(f"{widest:,}")
    for bucket in stats.histogram:
        bar = "#" * math.ceil(bucket.count / widest * _BAR_WIDTH) if bucket.count else ""
        note = _bin_note(bucket, stats.max_length)
        lines.append(
            f"  {bucket.lower:>{edge_width},} - {bucket.upper - 1:>{edge_width},} "
            f"{bucket.count:>{count_width},} " + (f"{bar:<{_BAR_WIDTH}} {note}" if note else bar)
        )
    return "\n".join(lines)
