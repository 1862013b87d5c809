"""The k-th smallest of every column's sliding window, for a stream known in advance.

ACI's backtest walk (``aci.run_aci``) rolls each horizon step's score pool: as an
outcome is observed its score joins the step, the oldest leaving past a capacity. Every
score that will ever join is known before the walk starts (the walk is given them), and
so is when each joins and leaves; only the rank asked for moves online, with ACI's level.
So each column's stream (its first window, then its arrivals, in order) is ranked once
up front, and the window is a bit mask over those ranks (64 to a word): an arrival or a
departure sets or clears one bit, and the k-th smallest of every column at once is a
cumulative popcount over the words, then a popcount bisection inside the one word (the
words are laid out (words, columns), so every count runs across whole rows at once). The
walk before this inserted each score into a sorted column in Python, a ``searchsorted``
and a shift per (origin, step): 74 % of a 24 h backtest's band time.

The value at a rank is the same whatever order equal values are kept in, so this gives
the k-th smallest exactly as a sorted column does (NaN is never in a window; ``-0.0``
and ``0.0`` compare equal and could swap, but scores are absolute values: never
``-0.0``).
"""

from __future__ import annotations

import numpy as np

# _BELOW[b]: the bits below bit b of a word.
_BELOW = np.array([(1 << b) - 1 for b in range(64)], dtype=np.uint64)


class WindowRanks:
    """Sliding windows over ``streams`` (columns, length): values in arrival order, NaN
    after a column's last; each window starts as the column's first ``initial`` values."""

    def __init__(self, streams: np.ndarray, initial: np.ndarray) -> None:
        streams = np.asarray(streams, dtype=float)
        columns, length = streams.shape
        self.words = max(-(-length // 64), 1)
        width = self.words * 64
        padded = np.full((columns, width), np.nan)
        padded[:, :length] = streams
        order = np.argsort(padded, axis=1, kind="stable")  # NaN last
        self.values = np.take_along_axis(padded, order, axis=1).ravel()  # columns' sorted
        self.rank = np.empty_like(order)  # rank[column, stream index]
        np.put_along_axis(self.rank, order, np.broadcast_to(np.arange(width), order.shape), axis=1)
        first = np.arange(width)[None, :] < np.asarray(initial)[:, None]
        present = np.take_along_axis(first, order, axis=1)  # by rank
        # bit r % 64 of word r // 64 holds rank r (little-endian: ``packbits``' "little")
        words = np.packbits(present, axis=1, bitorder="little").view(np.uint64)
        self.bits = np.ascontiguousarray(words.T)  # (words, columns)
        self._column = np.arange(columns)
        self._start = self._column * width  # each column's first value in ``values``
        # upto[w, column]: the bits set in words 0..w (kept as bits come and go: a
        # cumulative sum over a few dozen rows per query cost more than the rest)
        self.upto = np.cumsum(np.bitwise_count(self.bits), axis=0, dtype=np.int64)
        self._word = np.arange(self.words)[:, None]
        self._moved = np.full(columns, self.words)  # no column's word moves

    def ranks_of(self, columns: np.ndarray, index: np.ndarray) -> np.ndarray:
        """The rank of each (column, stream index) among its column's stream."""
        return self.rank[columns, index]

    def insert(self, columns: np.ndarray, ranks: np.ndarray) -> None:
        """Enter the values at ``ranks`` into their columns' windows (a column at most once)."""
        bit = np.left_shift(np.uint64(1), (ranks & 63).astype(np.uint64))
        self.bits[ranks >> 6, columns] |= bit
        self.upto += self._from(columns, ranks >> 6)

    def remove(self, columns: np.ndarray, ranks: np.ndarray) -> None:
        """Take the values at ``ranks`` out of their columns' windows (a column at most once)."""
        bit = np.left_shift(np.uint64(1), (ranks & 63).astype(np.uint64))
        self.bits[ranks >> 6, columns] &= ~bit
        self.upto -= self._from(columns, ranks >> 6)

    def _from(self, columns: np.ndarray, word: np.ndarray) -> np.ndarray:
        """(words, columns) 1 from each given column's ``word`` on, else 0."""
        moved = self._moved.copy()
        moved[columns] = word
        return self._word >= moved

    def smallest(self, k: np.ndarray) -> np.ndarray:
        """The ``k``-th smallest (0-based, (m, columns)) of every column's window.

        ``k`` must be below the column's window size; where it is not (an empty window)
        the value is some value of the column or NaN, for the caller to discard."""
        upto = self.upto
        word = np.minimum((upto[None] <= k[:, None]).sum(axis=1), self.words - 1)
        k = k - np.where(word > 0, upto[word - 1, self._column], 0)  # its place in the word
        bits = self.bits[word, self._column]
        at = np.zeros(k.shape, dtype=np.int64)  # the highest bit with at most k set below
        for half in (32, 16, 8, 4, 2, 1):
            trial = at + half
            at = np.where(np.bitwise_count(bits & _BELOW[trial]) <= k, trial, at)
        return self.values[self._start + word * 64 + at]

    def pooled(self, divisors: np.ndarray) -> np.ndarray:
        """Every window's values, each divided by its column's divisor, sorted."""
        words = np.ascontiguousarray(self.bits.T).view(np.uint8)
        present = np.unpackbits(words, axis=1, bitorder="little").astype(bool).ravel()
        scaled = self.values.reshape(len(self._column), -1) / divisors[:, None]
        return np.sort(scaled.ravel()[present])
