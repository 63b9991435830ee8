"""Duplicate records: exact copies, copies apart from case, spacing or punctuation, and
near copies.

Exact duplicates are errors (the copy would be trained on twice); the other two are
warnings. Each duplicate names the earliest record it repeats, in the same file or an
earlier file of a mix.

Only small fingerprints are kept per record, never the text: two 64-bit hashes (the
text as written and the normalised text) and a MinHash signature of the record's word
3-shingles (32 one-byte values, Li and König's b-bit MinHash) with 8 locality-sensitive
band keys of 4 values each. Near duplicates are found once every record is in, by
sorting the band keys: two records that agree on a band are compared by signature, and
are near duplicates when their estimated Jaccard similarity is at least
:data:`NEAR_DUPLICATE_SIMILARITY`. Changing one word in a record of 50 words leaves a
similarity of about 0.9; unrelated records on one topic are below 0.2.
System messages are left out of the near-duplicate comparison, since one system prompt
shared by every record would make them all look alike.
"""

from __future__ import annotations

import hashlib
import math
import re
import string
import zlib
from array import array
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import cast

import numpy as np

from desktop_app.data.records import RecordProblem, TrainingRecord

#: Least estimated Jaccard similarity of word 3-shingles for a near duplicate.
NEAR_DUPLICATE_SIMILARITY = 0.7

_SHINGLE_WORDS = 3
_BANDS = 8
_ROWS = 4
_PERMUTATIONS = _BANDS * _ROWS
_BATCH_SHINGLES = 1 << 16
_MAX_COMPARED = 256  # earlier records compared per band bucket, to bound crowded buckets
_WORD_CACHE_LIMIT = 1 << 20

_random = np.random.default_rng(20240607)
_MULTIPLIERS = _random.integers(1, 2**63, size=_PERMUTATIONS, dtype=np.uint64) * 2 + 1
_OFFSETS = _random.integers(0, 2**63, size=_PERMUTATIONS, dtype=np.uint64)
_SHINGLE_WEIGHTS = _random.integers(1, 2**63, size=_SHINGLE_WORDS, dtype=np.uint64) * 2 + 1
_BAND_WEIGHTS = _random.integers(1, 2**63, size=_ROWS, dtype=np.uint64) * 2 + 1
del _random

_PUNCTUATION = re.compile(r"[^\w\s]+")
_ASCII_PUNCTUATION = str.maketrans("", "", string.punctuation)
# b-bit MinHash: two different minimum hashes still agree in their low byte 1 time in 256.
_CHANCE_MATCH = 1 / 256
_MATCHES_NEEDED = math.ceil(
    _PERMUTATIONS * (NEAR_DUPLICATE_SIMILARITY * (1 - _CHANCE_MATCH) + _CHANCE_MATCH)
)


def content_key(record: TrainingRecord) -> str:
    """What makes two records the same example: their text, ignoring surrounding spaces."""
    if record.text is not None:
        key = "\x1c" + record.text.strip()
    else:
        key = "\x1e".join(f"{m.role}\x1f{m.content.strip()}" for m in record.messages)
    if record.rejected is not None:
        key += "\x1d" + record.rejected.strip()
    return key


def _words(text: str) -> list[str]:
    """The words of a text, lower case, punctuation removed."""
    text = text.lower().translate(_ASCII_PUNCTUATION)
    if not text.isascii():
        text = _PUNCTUATION.sub("", text)
    return text.split()


def normalize_text(text: str) -> str:
    """Lower case, without punctuation, single spaces: ``"Hello,  World!"`` -> ``"hello world"``."""
    return " ".join(_words(text))


def _record_words(record: TrainingRecord) -> tuple[list[str], list[str]]:
    """The words of the record's system messages, and of everything else."""
    system = [m.content for m in record.messages if m.role == "system"]
    parts = [record.text] if record.text is not None else []
    parts += [f"{m.role} {m.content}" for m in record.messages if m.role != "system"]
    if record.rejected is not None:
        parts.append(f"rejected {record.rejected}")
    return _words(" ".join(system)) if system else [], _words(" ".join(parts))


def _hash64(text: str) -> int:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _first_equal(keys: np.ndarray) -> np.ndarray:
    """For each position, the first position holding the same key."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.ones(len(keys), dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    group_first = order[starts]
    first = np.empty_like(order)
    first[order] = group_first[np.cumsum(starts) - 1]
    return first


@dataclass(frozen=True)
class DuplicateFinding:
    """One record that repeats an earlier one.

    Args:
        index: The record's position in the order records were added.
        earlier: The position of the earliest record it repeats.
        problem: The problem to report: an error for an exact duplicate, else a warning.
    """

    index: int
    earlier: int
    problem: RecordProblem


class DuplicateFinder:
    """Collects fingerprints of records as they are read, then names the duplicates.

    Add records in file order (and files in the order of a mix); call :meth:`findings`
    once all are in.
    """

    def __init__(self) -> None:
        self._sources: dict[tuple[str, str], int] = {}
        self._record_source = array("H")
        self._record_line = array("Q")
        self._exact = array("Q")
        self._normalized = array("Q")
        self._pending: list[list[int]] = []
        self._pending_shingles = 0
        self._signatures: list[np.ndarray] = []
        self._bands: list[np.ndarray] = []
        self._word_hashes: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._exact)

    def add(self, record: TrainingRecord) -> int:
        """Take a record's fingerprints; returns its position."""
        source = self._sources.setdefault((record.source, record.unit), len(self._sources))
        self._record_source.append(source)
        self._record_line.append(record.line)
        self._exact.append(_hash64(content_key(record)))
        system_words, words = _record_words(record)
        self._normalized.append(_hash64(" ".join(system_words + words)))
        self._pending.append(self._hash_words(words))
        self._pending_shingles += len(words)
        if self._pending_shingles >= _BATCH_SHINGLES:
            self._flush()
        return len(self._exact) - 1

    def _hash_words(self, words: list[str]) -> list[int]:
        cache = self._word_hashes
        if len(cache) > _WORD_CACHE_LIMIT:
            cache.clear()
        found: list[int | None] = list(map(cache.get, words))
        if None in found:
            for place, word in enumerate(words):
                if found[place] is None:
                    value = zlib.crc32(word.encode("utf-8", "surrogatepass")) + 1
                    found[place] = cache[word] = value
        hashes = cast(list[int], found)
        # Fewer words than a shingle: pad, so the record still has one shingle.
        return hashes + [0] * (_SHINGLE_WORDS - len(hashes))

    def _flush(self) -> None:
        """MinHash signatures and band keys for the records read since the last flush."""
        if not self._pending:
            return
        lengths = np.fromiter((len(words) for words in self._pending), dtype=np.int64)
        words = np.fromiter(chain.from_iterable(self._pending), dtype=np.uint64)
        self._pending, self._pending_shingles = [], 0
        windows = np.lib.stride_tricks.sliding_window_view(words, _SHINGLE_WORDS)
        shingles = windows @ _SHINGLE_WEIGHTS  # wraps modulo 2**64, as intended
        ends = np.cumsum(lengths)
        keep = np.ones(len(shingles), dtype=bool)
        for back in range(1, _SHINGLE_WORDS):  # windows that run into the next record
            crossing = ends[:-1] - back
            keep[crossing[crossing < len(keep)]] = False
        shingles = shingles[keep]
        counts = lengths - (_SHINGLE_WORDS - 1)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        minimums = np.empty((len(lengths), _PERMUTATIONS), dtype=np.uint64)
        for column in range(_PERMUTATIONS):  # one column at a time keeps memory small
            hashed = (shingles * _MULTIPLIERS[column] + _OFFSETS[column]) >> np.uint64(32)
            minimums[:, column] = np.minimum.reduceat(hashed, starts)
        self._signatures.append((minimums & np.uint64(0xFF)).astype(np.uint8))
        bands = minimums.reshape(len(lengths), _BANDS, _ROWS) @ _BAND_WEIGHTS
        self._bands.append((bands >> np.uint64(32)).astype(np.uint32))

    def findings(self) -> list[DuplicateFinding]:
        """Every duplicate among the records added, in the order they were added."""
        self._flush()
        count = len(self._exact)
        if count == 0:
            return []
        positions = np.arange(count)
        first_exact = _first_equal(np.frombuffer(self._exact, dtype=np.uint64))
        first_normalized = _first_equal(np.frombuffer(self._normalized, dtype=np.uint64))
        representatives = np.flatnonzero(first_normalized == positions)
        near_partner, near_similarity = self._near(representatives)
        earliest_near = np.full(count, -1, dtype=np.int64)
        similarity = np.zeros(count)
        matched = near_partner >= 0
        earliest_near[representatives[matched]] = representatives[near_partner[matched]]
        similarity[representatives[matched]] = near_similarity[matched]
        repeats = (
            (first_exact != positions) | (first_normalized != positions) | (earliest_near >= 0)
        )
        found: list[DuplicateFinding] = []
        for index in np.flatnonzero(repeats).tolist():
            if first_exact[index] != index:
                earlier, code = int(first_exact[index]), "exact_duplicate"
            elif first_normalized[index] != index:
                earlier, code = int(first_normalized[index]), "normalized_duplicate"
            else:
                earlier, code = int(earliest_near[index]), "near_duplicate"
            found.append(self._finding(index, earlier, code, float(similarity[index])))
        return found

    def _near(self, representatives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each representative, the earliest earlier one it nearly repeats (or -1)."""
        # One array each, in place of the chunks, so the memory is not held twice.
        self._signatures = [np.concatenate(self._signatures)]
        self._bands = [np.concatenate(self._bands)]
        signatures, bands = self._signatures[0], self._bands[0]
        if len(representatives) < len(signatures):
            signatures, bands = signatures[representatives], bands[representatives]
        partner = np.full(len(representatives), -1, dtype=np.int64)
        similarity = np.zeros(len(representatives))
        for band in range(_BANDS):
            order = np.argsort(bands[:, band], kind="stable")
            keys = bands[order, band]
            cuts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
            starts = np.concatenate(([0], cuts))
            ends = np.concatenate((cuts, [len(keys)]))
            for group in np.flatnonzero(ends - starts > 1):
                members = order[starts[group] : ends[group]]
                group_signatures = signatures[members]
                for place in range(1, len(members)):
                    compared = group_signatures[: min(place, _MAX_COMPARED)]
                    matches = np.count_nonzero(compared == group_signatures[place], axis=1)
                    hits = np.flatnonzero(matches >= _MATCHES_NEEDED)
                    if not hits.size:
                        continue
                    me, candidate = members[place], members[hits[0]]
                    if partner[me] < 0 or candidate < partner[me]:
                        partner[me] = candidate
                        share = matches[hits[0]] / _PERMUTATIONS
                        similarity[me] = (share - _CHANCE_MATCH) / (1 - _CHANCE_MATCH)
        return partner, similarity

    def _where(self, index: int) -> tuple[str, str, int]:
        path, unit = list(self._sources)[self._record_source[index]]
        return path, unit, self._record_line[index]

    def _finding(self, index: int, earlier: int, code: str, similarity: float) -> DuplicateFinding:
        path, unit, line = self._where(index)
        earlier_path, earlier_unit, earlier_line = self._where(earlier)
        named = f"{earlier_unit} {earlier_line}"
        if earlier_path != path:
            named = f"{Path(earlier_path).name}, {named}"
        if code == "exact_duplicate":
            reason, severity = f"is an exact duplicate of {named}", "error"
        elif code == "normalized_duplicate":
            reason = f"is the same as {named} apart from case, spacing or punctuation"
            severity = "warning"
        else:
            percent = min(int(similarity * 100), 99)
            reason = f"is nearly the same as {named} (about {percent}% alike)"
            severity = "warning"
        problem = RecordProblem(path, line, None, reason, unit, severity, code)
        return DuplicateFinding(index, earlier, problem)
