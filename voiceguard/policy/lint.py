"""Semantic checks on packs that passed the schema: what a JSON Schema cannot say.

Unique pack names and rule ids across the directory, known jurisdictions and controls, actions a control
can take, and for the disclosure controls: regexes that compile, an injected text for every language the
pack listens in, and injected texts that pass the pack's own phrases (otherwise the disclosure voiceguard
injects into an LLM reply would be flagged as missing again when the same words reach TTS).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from voiceguard.policy import jurisdiction
from voiceguard.policy.controls import CONTROLS, PII_ENTITIES
from voiceguard.policy.disclosure import (
    PhraseSet,
    SettingsError,
    VersionedText,
    disclosure_settings,
    question_settings,
)
from voiceguard.policy.loader import Problem, read_directory
from voiceguard.policy.model import Control, Pack, Rule


def _file(pack: Pack) -> str:
    return Path(pack.path).name


def _check_jurisdictions(pack: Pack) -> Iterable[Problem]:
    for code in pack.jurisdictions:
        if not jurisdiction.is_known(code):
            yield Problem("error", _file(pack), f"unknown jurisdiction {code!r}")
    for rule in pack.rules:
        for code in rule.jurisdictions:
            if not jurisdiction.is_known(code) and code not in pack.jurisdictions:
                yield Problem("error", _file(pack), f"unknown jurisdiction {code!r}", rule.id)


def _single(rule: Rule) -> Control:
    return Control(rule.control, rule.action, (rule.id,), rule.parameters, rule.evidence)


def _check_disclosure(rule: Rule) -> list[str]:
    settings = disclosure_settings(_single(rule))
    messages = _check_texts(
        "disclosure",
        "accepted_phrases",
        settings.accepted,
        settings.texts,
        settings.accepted,
        settings.denials,
    )
    for code, locale in settings.jurisdiction_locales.items():
        if not jurisdiction.is_known(code):
            messages.append(f"jurisdiction_locales names unknown jurisdiction {code!r}")
        if locale not in settings.texts:
            messages.append(f"jurisdiction_locales maps {code} to {locale!r}, which has no disclosure text")
    return messages


def _check_question(rule: Rule) -> list[str]:
    settings = question_settings(_single(rule))
    return _check_texts(
        "admission",
        "question_patterns",
        settings.questions,
        settings.admissions,
        settings.accepted,
        settings.denials,
    )


def _check_texts(
    kind: str,
    listened_key: str,
    listened: PhraseSet,
    texts: Mapping[str, VersionedText],
    accepted: PhraseSet,
    denials: PhraseSet,
) -> list[str]:
    """Every language listened in has a text to inject, and every such text passes its own phrases."""
    messages = [
        f"{listened_key} has locale {locale!r} but {kind}s has no text for it"
        for locale in sorted(set(listened.by_locale) - set(texts))
    ]
    for locale, text in texts.items():
        if not accepted.search(text.text):
            messages.append(f"the {locale!r} {kind} text does not match accepted_phrases")
        if denials.search(text.text):
            messages.append(f"the {locale!r} {kind} text matches denial_phrases")
    return messages


_PARAMETER_CHECKS: dict[str, Callable[[Rule], list[str]]] = {
    "disclosure": _check_disclosure,
    "ai-question": _check_question,
}


def _check_rule(pack: Pack, rule: Rule) -> Iterable[Problem]:
    spec = CONTROLS.get(rule.control)
    if spec is None:
        known = ", ".join(sorted(CONTROLS))
        yield Problem("error", _file(pack), f"unknown control {rule.control!r}; known: {known}", rule.id)
        return
    if rule.action not in spec.actions:
        allowed = ", ".join(sorted(action.value for action in spec.actions))
        yield Problem(
            "error",
            _file(pack),
            f"action {rule.action.value!r} is not possible for control {rule.control!r}; allowed: {allowed}",
            rule.id,
        )
    if not rule.evidence:
        yield Problem("warning", _file(pack), "records no evidence", rule.id)
    if rule.control == "pii":
        entities = rule.parameters.get("entities")
        for entity in sorted(entities) if isinstance(entities, Mapping) else ():
            if entity not in PII_ENTITIES:
                known = ", ".join(sorted(PII_ENTITIES))
                message = f"entity {entity!r} is not detected by the PII guard; known: {known}"
                yield Problem("warning", _file(pack), message, rule.id)
    check = _PARAMETER_CHECKS.get(rule.control)
    if check is not None:
        try:
            messages = check(rule)
        except SettingsError as exc:
            messages = [str(exc)]
        for message in messages:
            yield Problem("error", _file(pack), message, rule.id)


def check_packs(packs: Iterable[Pack]) -> list[Problem]:
    """Every semantic problem across ``packs`` (which must already have passed the schema)."""
    problems: list[Problem] = []
    pack_names: dict[str, str] = {}
    rule_ids: dict[str, str] = {}
    for pack in packs:
        if pack.name in pack_names:
            other = pack_names[pack.name]
            problems.append(Problem("error", _file(pack), f"pack name {pack.name!r} is also used by {other}"))
        pack_names.setdefault(pack.name, _file(pack))
        if not pack.enabled:
            problems.append(Problem("warning", _file(pack), "disabled: applies to no call"))
        problems.extend(_check_jurisdictions(pack))
        for rule in pack.rules:
            if rule.id in rule_ids:
                problems.append(
                    Problem("error", _file(pack), f"rule id is also used in {rule_ids[rule.id]}", rule.id)
                )
            rule_ids.setdefault(rule.id, _file(pack))
            problems.extend(_check_rule(pack, rule))
    return problems


def lint_directory(directory: Path) -> tuple[list[Pack], list[Problem]]:
    """Everything ``voiceguard policy lint`` reports: schema problems first, then semantic ones."""
    packs, problems = read_directory(directory)
    return packs, problems + check_packs(packs)
