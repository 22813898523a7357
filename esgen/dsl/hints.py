""" "Did you mean ...?" hints at a bounded cost per question.

A hint compares the unknown word with the names it could have meant, with difflib's
similarity ratio (at least 0.6, as ``difflib.get_close_matches``). Comparing each of N
typos with each of M names costs N x M ratios: 2,000 typos against 2,000 names took a
minute. So:

- a :class:`Suggester` is built once per set of names, and :func:`did_you_mean` keeps the
  last sets it was asked about (by identity: scopes pass the same tuple or mapping);
- each distinct word is answered once per set (cached);
- in a scope of at most ``SMALL_SCOPE`` names (the common case) the word is compared
  with each, and the answer is exactly difflib's;
- in a larger scope, with a shortlist of ``SHORTLIST`` names: those sharing the most
  *rare* three-letter groups with the word (a group shared by more than ``RARE`` names is
  skipped), topped up with the names closest to it in length. The shortlist is ranked by
  difflib's cheap ``quick_ratio`` and the full ratio is computed for the best ``FINALISTS``.

The cost is linear: the names once, then at most ``SMALL_SCOPE`` comparisons per distinct
word. :func:`comparisons` counts them (quick and full ratios), so tests can assert it.
"""

from __future__ import annotations

import difflib
import heapq
from collections import Counter, OrderedDict
from collections.abc import Collection, Iterable

CUTOFF = 0.6
SMALL_SCOPE = 64
SHORTLIST = 32
FINALISTS = 8
MAX_WORD = 100  # longer words get no hint: nobody mistypes a name that long
RARE = 64  # a group shared by more names than this does not narrow the search
_CACHED_SCOPES = 32

_counter = [0]  # ratios computed since the process started


def comparisons() -> int:
    """How many similarity ratios hints have computed so far (for tests)."""
    return _counter[0]


def _groups(word: str) -> set[str]:
    padded = f" {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


class Suggester:
    """Close matches among one fixed set of names."""

    def __init__(self, candidates: Iterable[str]) -> None:
        # Names are compared lower-cased and without "(...)": 'decimal(P,S)' as 'decimal'.
        self._by_key: dict[str, str] = {}
        for candidate in dict.fromkeys(candidates):
            self._by_key[candidate.split("(")[0].lower()] = candidate
        self._keys = list(self._by_key)
        self._cache: dict[str, str | None] = {}
        self._index: dict[str, list[int]] | None = None
        self._by_length: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def best(self, word: str) -> str | None:
        """The name closest to ``word``, or None when nothing is close enough."""
        if word not in self._cache:
            self._cache[word] = self._best(word)
        return self._cache[word]

    def hint(self, word: str) -> str | None:
        best = self.best(word)
        return None if best is None else f"did you mean '{best}'?"

    def _best(self, word: str) -> str | None:
        if len(word) > MAX_WORD or not self._keys:
            return None
        lowered = word.lower()
        if len(self._keys) <= SMALL_SCOPE:
            _counter[0] += len(self._keys)
            matches = difflib.get_close_matches(lowered, self._keys, n=1, cutoff=CUTOFF)
            return self._by_key[matches[0]] if matches else None
        matcher = difflib.SequenceMatcher()
        matcher.set_seq2(lowered)
        ranked: list[tuple[float, str]] = []
        for key in self._shortlist(lowered):
            matcher.set_seq1(key)
            ranked.append((matcher.quick_ratio(), key))
        _counter[0] += len(ranked)
        best: tuple[float, str] | None = None
        for quick, key in heapq.nlargest(FINALISTS, ranked):
            if quick < CUTOFF:
                break
            matcher.set_seq1(key)
            _counter[0] += 1
            score = (matcher.ratio(), key)  # ties go to the larger string, as in difflib
            if score[0] >= CUTOFF and (best is None or score > best):
                best = score
        return None if best is None else self._by_key[best[1]]

    def _build_index(self) -> dict[str, list[int]]:
        index: dict[str, list[int]] = {}
        for position, key in enumerate(self._keys):
            for group in _groups(key):
                index.setdefault(group, []).append(position)
            self._by_length.setdefault(len(key), []).append(position)
        return index

    def _shortlist(self, word: str) -> list[str]:
        if self._index is None:
            self._index = self._build_index()
        shared: Counter[int] = Counter()
        for group in _groups(word):
            postings = self._index.get(group, ())
            if len(postings) <= RARE:
                shared.update(postings)
        chosen = [p for p, _ in heapq.nlargest(SHORTLIST, shared.items(), lambda i: i[1])]
        taken = set(chosen)
        # Top up with the names closest in length (a ratio of 0.6 needs lengths within
        # a factor of 7/3 of each other).
        low, high = (len(word) * 3) // 7, (len(word) * 7 + 2) // 3
        for distance in range(max(len(word) - low, high - len(word)) + 1):
            if len(chosen) >= SHORTLIST:
                break
            for length in {len(word) - distance, len(word) + distance}:
                for position in self._by_length.get(length, ()):
                    if len(chosen) >= SHORTLIST:
                        break
                    if position not in taken:
                        taken.add(position)
                        chosen.append(position)
        return [self._keys[p] for p in chosen]


_scopes: OrderedDict[int, tuple[object, int, Suggester]] = OrderedDict()


def suggester(candidates: Collection[str]) -> Suggester:
    """The Suggester of ``candidates``, reused while the same object is asked about again.

    Callers pass the scope's own tuple or mapping; a fresh list costs one build.
    """
    key, size = id(candidates), len(candidates)
    found = _scopes.get(key)
    if found is not None and found[0] is candidates and found[1] == size:
        _scopes.move_to_end(key)
        return found[2]
    made = Suggester(candidates)
    _scopes[key] = (candidates, size, made)  # the reference keeps the id from being reused
    if len(_scopes) > _CACHED_SCOPES:
        _scopes.popitem(last=False)
    return made


def did_you_mean(word: str, candidates: Collection[str]) -> str | None:
    """A hint such as "did you mean 'decimal(P,S)'?" or None when nothing is close."""
    return suggester(candidates).hint(word)
