"""Which voice a stretch of speech belongs to, from speaker embeddings: the decision, without the models.

Each voice heard on a call is kept as the running mean of its unit-length embeddings. A window whose cosine
distance to every known voice exceeds the threshold is a candidate new voice; it counts only when
``confirm`` consecutive such windows agree with each other (one noisy window, a cough or a window that
straddles two speakers, does not add a person). The first voice is the one the call starts with, taken to be
the subject whose consent is on record.

The embeddings live in this object only, in memory, for one call; ``forget`` overwrites them when the call
ends. Nothing here is ever logged, traced or stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]

MAX_VOICES: Final = 16
"""Voices kept per call; further ones are still counted, but not remembered."""


class Verdict(Enum):
    FIRST = "first"
    """The call's first voice."""
    SAME = "same"
    """A voice already heard on this call."""
    PENDING = "pending"
    """Unlike every known voice, but not yet confirmed by enough windows."""
    NEW = "new"
    """A voice not heard before on this call joined."""


@dataclass(frozen=True, slots=True)
class Observation:
    verdict: Verdict
    voice: int | None
    """Index of the voice (0 is the first), ``None`` while pending."""
    distance: float
    """Cosine distance to the closest voice known before this window (0 for the first)."""


def _unit(vector: Vector) -> Vector:
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("the speaker model returned an empty or non-finite embedding")
    return np.asarray(vector / norm, dtype=np.float32)


def _mean(units: list[Vector]) -> Vector:
    return _unit(np.asarray(np.sum(units, axis=0), dtype=np.float32))


class VoiceRegistry:
    """The voices of one call; used from the detector's worker thread only."""

    __slots__ = ("_candidates", "_centroids", "_counts", "confirm", "threshold", "voices")

    def __init__(self, threshold: float, confirm: int = 2) -> None:
        if not 0.0 < threshold < 2.0:
            raise ValueError("the cosine-distance threshold lies between 0 and 2")
        self.threshold = threshold
        self.confirm = max(1, confirm)
        self.voices = 0
        self._centroids: list[Vector] = []
        self._counts: list[int] = []
        self._candidates: list[Vector] = []

    def observe(self, embedding: Vector) -> Observation:
        """Place one window's embedding among the call's voices."""
        unit = _unit(np.asarray(embedding, dtype=np.float32))
        if not self._centroids:
            self._add(unit)
            return Observation(Verdict.FIRST, 0, 0.0)
        distances = [1.0 - float(np.dot(centroid, unit)) for centroid in self._centroids]
        best = int(np.argmin(distances))
        distance = distances[best]
        if distance <= self.threshold:
            self._candidates.clear()
            self._merge(best, unit)
            return Observation(Verdict.SAME, best, distance)
        if self._candidates and 1.0 - float(np.dot(_mean(self._candidates), unit)) > self.threshold:
            self._candidates.clear()  # the earlier candidates were not the same newcomer: start again
        self._candidates.append(unit)
        if len(self._candidates) < self.confirm:
            return Observation(Verdict.PENDING, None, distance)
        joined = _mean(self._candidates)
        self._candidates.clear()
        return Observation(Verdict.NEW, self._add(joined), distance)

    def forget(self) -> None:
        """Overwrite and drop every embedding of the call."""
        for vector in (*self._centroids, *self._candidates):
            vector.fill(0.0)
        self._centroids.clear()
        self._counts.clear()
        self._candidates.clear()

    def _add(self, unit: Vector) -> int:
        self.voices += 1
        if len(self._centroids) < MAX_VOICES:
            self._centroids.append(unit.copy())
            self._counts.append(1)
        return self.voices - 1

    def _merge(self, index: int, unit: Vector) -> None:
        count = self._counts[index]
        mean = (self._centroids[index] * count + unit) / (count + 1)
        self._centroids[index][:] = _unit(np.asarray(mean, dtype=np.float32))
        self._counts[index] = count + 1
