"""The typed view of the ``disclosure`` and ``ai-question`` controls: texts to inject, phrases to accept.

Parsed from a control's merged parameters (or one rule's, for lint) and compiled once; the guard then only
runs regular expressions. A pack whose injected text would not pass its own phrases is refused by lint, so
an injected disclosure is always recognised as one further down the pipeline (TTS after the LLM).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from voiceguard.policy.model import Action, Control, Param

DEFAULT_WINDOW_CHARS: Final = 120
DEFAULT_STAGES: Final = ("llm", "tts", "realtime")
LANGUAGE_NAMES: Final = {"english": "en", "german": "de", "french": "fr", "spanish": "es", "italian": "it"}
"""Languages some STT backends report by name (OpenAI ``verbose_json``) rather than by code."""


class SettingsError(ValueError):
    """A control's parameters cannot be used (bad regex, missing text); the message says which."""


@dataclass(frozen=True, slots=True)
class VersionedText:
    """A text voiceguard may put in front of a reply; id and version go into the evidence."""

    id: str
    version: str
    locale: str
    text: str


@dataclass(frozen=True, slots=True)
class PhraseSet:
    """Case-insensitive regular expressions per locale."""

    by_locale: Mapping[str, tuple[re.Pattern[str], ...]]

    def search(self, text: str, before: int | None = None) -> bool:
        """Whether any locale's phrase occurs in ``text`` (starting before ``before`` when given)."""
        return self.locale_of_match(text, before) is not None

    def locale_of_match(self, text: str, before: int | None = None) -> str | None:
        """The locale of the first phrase found in ``text``, or ``None``."""
        for locale, patterns in self.by_locale.items():
            for pattern in patterns:
                match = pattern.search(text)
                if match is not None and (before is None or match.start() < before):
                    return locale
        return None


@dataclass(frozen=True, slots=True)
class DisclosureSettings:
    action: Action
    rule_id: str
    default_locale: str
    stages: frozenset[str]
    window: int
    jurisdiction_locales: Mapping[str, str]
    texts: Mapping[str, VersionedText]
    accepted: PhraseSet
    denials: PhraseSet

    def text_for(self, locale: str) -> VersionedText:
        return self.texts.get(locale) or self.texts[self.default_locale]


@dataclass(frozen=True, slots=True)
class QuestionSettings:
    action: Action
    rule_id: str
    window: int
    questions: PhraseSet
    admissions: Mapping[str, VersionedText]
    accepted: PhraseSet
    denials: PhraseSet

    def text_for(self, locale: str, default_locale: str) -> VersionedText:
        return (
            self.admissions.get(locale)
            or self.admissions.get(default_locale)
            or next(iter(self.admissions.values()))
        )


def _mapping(value: Param, key: str) -> Mapping[str, Param]:
    if not isinstance(value, Mapping):
        raise SettingsError(f"{key} must be a mapping")
    return value


def phrases(value: Param, key: str) -> PhraseSet:
    compiled: dict[str, tuple[re.Pattern[str], ...]] = {}
    for locale, items in _mapping(value or {}, key).items():
        if not isinstance(items, tuple):
            raise SettingsError(f"{key}.{locale} must be a list of regular expressions")
        patterns = []
        for item in items:
            try:
                patterns.append(re.compile(str(item), re.IGNORECASE))
            except re.error as exc:
                raise SettingsError(f"{key}.{locale}: bad regular expression {item!r}: {exc}") from None
        compiled[locale] = tuple(patterns)
    return PhraseSet(MappingProxyType(compiled))


def texts(value: Param, key: str) -> Mapping[str, VersionedText]:
    out: dict[str, VersionedText] = {}
    for locale, item in _mapping(value, key).items():
        entry = _mapping(item, f"{key}.{locale}")
        out[locale] = VersionedText(
            str(entry.get("id")), str(entry.get("version")), locale, str(entry.get("text"))
        )
    if not out:
        raise SettingsError(f"{key} must name at least one text")
    return MappingProxyType(out)


def _window(parameters: Mapping[str, Param]) -> int:
    window = parameters.get("verify_window_chars", DEFAULT_WINDOW_CHARS)
    return window if isinstance(window, int) and window >= 0 else DEFAULT_WINDOW_CHARS


def disclosure_settings(control: Control) -> DisclosureSettings:
    parameters = control.parameters
    default_locale = str(parameters.get("default_locale", "en"))
    disclosures = texts(parameters.get("disclosures"), "disclosures")
    if default_locale not in disclosures:
        raise SettingsError(f"disclosures has no text for the default locale {default_locale!r}")
    stages = parameters.get("stages", DEFAULT_STAGES)
    locales = _mapping(parameters.get("jurisdiction_locales") or {}, "jurisdiction_locales")
    return DisclosureSettings(
        action=control.action,
        rule_id=control.rules[0],
        default_locale=default_locale,
        stages=frozenset(str(stage) for stage in stages) if isinstance(stages, tuple) else frozenset(),
        window=_window(parameters),
        jurisdiction_locales=MappingProxyType({str(k): str(v) for k, v in locales.items()}),
        texts=disclosures,
        accepted=phrases(parameters.get("accepted_phrases"), "accepted_phrases"),
        denials=phrases(parameters.get("denial_phrases"), "denial_phrases"),
    )


def question_settings(control: Control) -> QuestionSettings:
    parameters = control.parameters
    return QuestionSettings(
        action=control.action,
        rule_id=control.rules[0],
        window=_window(parameters),
        questions=phrases(parameters.get("question_patterns"), "question_patterns"),
        admissions=texts(parameters.get("admissions"), "admissions"),
        accepted=phrases(parameters.get("accepted_phrases"), "accepted_phrases"),
        denials=phrases(parameters.get("denial_phrases"), "denial_phrases"),
    )


def locale_of(language: str | None) -> str | None:
    """A two-letter locale from what an STT backend reports (``en``, ``en-US``, ``english``)."""
    if not language:
        return None
    lowered = language.strip().lower()
    if lowered in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[lowered]
    code = lowered.split("-", 1)[0].split("_", 1)[0]
    return code if len(code) == 2 and code.isalpha() else None
