"""Which part of each noise file training may hear: the span its training excerpts cover,
less every test excerpt inside it, and fresh excerpt starts drawn there.

Fresh noise examples (``--noise_excerpts random``) and a student's remix noise are read at
random starts inside these spans, so a config that puts a test excerpt between two
training excerpts of a file never trains on the audio that test line scores; one whose
test excerpt overlaps a training excerpt is refused (``check``). Validation excerpts
drawn from the same part of a file as training ones (the paper's protocol) are reported,
not removed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Interval = tuple[float, float]
"""(start, end) in seconds."""
NoiseSpans = dict[str, tuple[Interval, ...]]
"""Noise file (as config lines name it) -> the intervals training may draw excerpts from."""


@dataclass(frozen=True)
class Excerpt:
    """A noise excerpt a config line reads: file, start and end (s), and the line."""

    name: str
    start_s: float
    end_s: float
    origin: str

    def __str__(self) -> str:
        return f"{self.origin} ({self.name}, {self.start_s:.3f}-{self.end_s:.3f} s)"


def read_spans(excerpts: list[Excerpt]) -> dict[str, Interval]:
    """Each file's span from its first excerpt's start to its last excerpt's end."""
    spans: dict[str, Interval] = {}
    for excerpt in excerpts:
        low, high = spans.get(excerpt.name, (excerpt.start_s, excerpt.end_s))
        spans[excerpt.name] = (min(low, excerpt.start_s), max(high, excerpt.end_s))
    return spans


def without(spans: dict[str, Interval], held_out: list[Excerpt]) -> NoiseSpans:
    """Each span cut around the ``held_out`` excerpts of its file that lie in it."""
    result: NoiseSpans = {}
    for name, span in spans.items():
        pieces = [span]
        for excerpt in (e for e in held_out if e.name == name):
            pieces = [piece for low, high in pieces
                      for piece in ((low, min(high, excerpt.start_s)),
                                    (max(low, excerpt.end_s), high)) if piece[1] > piece[0]]
        result[name] = tuple(pieces)
    return result


def random_start(intervals: tuple[Interval, ...], rng: np.random.Generator,
                 clip_s: float) -> float:
    """A start (s) drawn uniformly among those whose clip of ``clip_s`` lies inside one of
    ``intervals``; the first interval's start where none holds a whole clip."""
    room = np.array([max(0.0, high - low - clip_s) for low, high in intervals])
    fits = [k for k, (low, high) in enumerate(intervals) if high - low >= clip_s]
    if not fits:
        return intervals[0][0]
    if room.sum() <= 0:
        return intervals[fits[int(rng.integers(len(fits)))]][0]
    k = int(rng.choice(len(intervals), p=room / room.sum()))
    return intervals[k][0] + rng.uniform(0.0, room[k])


def overlaps(a: Excerpt, b: Excerpt) -> bool:
    return a.name == b.name and a.start_s < b.end_s and b.start_s < a.end_s


@dataclass(frozen=True)
class SpanCheck:
    """The spans training may draw from, and what the check found."""

    spans: NoiseSpans
    refused: list[str]
    """Test excerpts that overlap a training excerpt, with both lines."""
    avoided: list[str]
    """Test excerpts inside a training span, which the spans now leave out."""
    shared: list[str]
    """Validation excerpts that overlap a training excerpt or lie inside a span."""


def inside(excerpt: Excerpt, spans: dict[str, Interval]) -> bool:
    low, high = spans.get(excerpt.name, (0.0, 0.0))
    return excerpt.start_s < high and low < excerpt.end_s


def check(training: list[Excerpt], validation: list[Excerpt],
          test: list[Excerpt]) -> SpanCheck:
    """The spans of the ``training`` excerpts less the test excerpts inside them; each test
    or validation excerpt that overlaps a training one, or lies inside a span, named with
    a training line that reads the same file."""
    spans, by_file = read_spans(training), {}
    for excerpt in training:
        by_file.setdefault(excerpt.name, []).append(excerpt)

    def clash(excerpt: Excerpt) -> Excerpt | None:
        return next((t for t in by_file.get(excerpt.name, []) if overlaps(t, excerpt)), None)

    def reported(excerpt: Excerpt) -> str:
        hit = clash(excerpt)
        if hit is not None:
            return f"{excerpt} overlaps the training excerpt of {hit}"
        low, high = spans[excerpt.name]
        return (f"{excerpt} lies inside the part of the file that training lines read "
                f"({low:.3f}-{high:.3f} s, e.g. {by_file[excerpt.name][0]})")

    clashes = [e for e in test if clash(e) is not None]
    enclosed = [e for e in test if e not in clashes and inside(e, spans)]
    return SpanCheck(without(spans, enclosed), [reported(e) for e in clashes],
                     [reported(e) for e in enclosed],
                     [reported(e) for e in validation if inside(e, spans)])
