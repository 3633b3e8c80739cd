"""The biometrics guard strips or refuses voiceprint features unless consent that counts is on record.

The rules are the shipped policy packs' (``policies/``), resolved for each call's jurisdiction.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import timedelta
from typing import Any

import pytest

from voiceguard.biometrics.call_state import CALL_SPEAKERS, CallSpeakers
from voiceguard.config import load_settings
from voiceguard.consent.model import (
    CALL_CONSENT,
    ConsentRecord,
    ConsentSlot,
    Purpose,
    SignatureMethod,
    SubjectConsent,
    new_consent_id,
    now_utc,
)
from voiceguard.events import (
    BiometricFeature,
    BiometricRequest,
    ClientNotice,
    Direction,
    PolicyDecision,
    Stage,
    Transcript,
    Word,
)
from voiceguard.guards import build_guards, consent_rules
from voiceguard.guards.base import Blocked, GuardContext
from voiceguard.guards.biometrics import BiometricsGuard
from voiceguard.guards.consent import covers
from voiceguard.policy import PolicySet, PolicyStore
from voiceguard.policy.loader import default_directory, load_policy_set
from voiceguard.session import Call
from voiceguard.testing import guard_context, make_call, run_guard

DIARIZE = BiometricRequest(BiometricFeature.DIARIZATION)
IDENTIFY = BiometricRequest(BiometricFeature.SPEAKER_IDENTIFICATION)
PUBLISHED = {
    "retention_schedule_url": "https://example.com/biometric-retention",
    "retention_schedule_sha256": "ab" * 32,
}
"""A published retention schedule (BIPA 15(a)): without one, the Illinois pack strips even with consent."""


@functools.cache
def shipped_packs() -> PolicySet:
    return load_policy_set(default_directory())


def guard(default_jurisdiction: str | None = "EU", **biometrics: Any) -> BiometricsGuard:
    settings = load_settings(None, env={}, overrides={"biometrics": {**PUBLISHED, **biometrics}})
    store = PolicyStore(shipped_packs(), default_jurisdiction=default_jurisdiction)
    return BiometricsGuard(consent_rules(settings, store))


def consent(
    purpose: Purpose = Purpose.VOICEPRINT,
    signature: SignatureMethod = SignatureMethod.ELECTRONIC,
    jurisdiction: str | None = "US-IL",
    **changes: object,
) -> ConsentRecord:
    fields: dict[str, object] = {
        "id": new_consent_id(),
        "subject_hash": "f" * 64,
        "purpose": purpose,
        "jurisdiction": jurisdiction,
        "notice_version": "bipa-v3",
        "signature": signature,
        "granted_at": now_utc() - timedelta(minutes=1),
    }
    fields.update(changes)
    return ConsentRecord(**fields)


def caller(
    jurisdiction: str | None = "US-IL",
    *records: ConsentRecord,
    attached: bool = True,
    subject: str = "+13125550100",
) -> Call:
    call = make_call(jurisdiction=jurisdiction, subject=subject)
    if attached:
        view = SubjectConsent("f" * 64)
        view.replace(records)
        call.scratch(CALL_CONSENT, ConsentSlot).view = view
    return call


def upstream(call: Call) -> GuardContext:
    return guard_context(call, stage=Stage.STT, provider="deepgram", operation="listen")


def to_client(call: Call) -> GuardContext:
    return guard_context(
        call, stage=Stage.STT, direction=Direction.TO_CLIENT, provider="deepgram", operation="listen"
    )


def test_illinois_caller_without_consent_gets_diarization_stripped_and_is_told() -> None:
    out = run_guard(guard(), upstream(caller("US-IL")), DIARIZE)
    assert out[0] == BiometricRequest(BiometricFeature.DIARIZATION, enabled=False)
    [decision] = [e for e in out if isinstance(e, PolicyDecision)]
    assert (decision.rule_id, decision.action, decision.outcome) == (
        "BIPA-15b-CONSENT",
        "strip",
        "no_consent",
    )
    assert ClientNotice("X-VoiceGuard-Stripped", "diarization; policy=BIPA-15b-CONSENT") in out


def test_written_or_electronic_release_lets_diarization_through_with_evidence() -> None:
    for signature in (SignatureMethod.WRITTEN, SignatureMethod.ELECTRONIC):
        record = consent(signature=signature)
        out = run_guard(guard(), upstream(caller("US-IL", record)), DIARIZE)
        assert out[0] is DIARIZE
        decision = out[1]
        assert isinstance(decision, PolicyDecision) and decision.action == "allow"
        assert ("consent_id", record.id) in decision.evidence
        assert ("record_digest", record.digest()) in decision.evidence


def test_a_spoken_yes_is_stored_but_is_no_release_under_bipa() -> None:
    out = run_guard(guard(), upstream(caller("US-IL", consent(signature=SignatureMethod.SPOKEN))), DIARIZE)
    assert out[0] == dataclasses.replace(DIARIZE, enabled=False)
    assert isinstance(out[1], PolicyDecision) and out[1].outcome == "signature_not_accepted"


def test_a_spoken_consent_counts_in_texas_where_no_written_form_is_required() -> None:
    record = consent(signature=SignatureMethod.SPOKEN, jurisdiction="US-TX")
    out = run_guard(guard(), upstream(caller("US-TX", record)), IDENTIFY)
    assert out[0] is IDENTIFY and isinstance(out[1], PolicyDecision) and out[1].rule_id == "TX-CUBI-CONSENT"


def test_texas_gates_speaker_identification_but_not_diarization() -> None:
    texas = caller("US-TX")
    assert run_guard(guard(), upstream(texas), DIARIZE) == [DIARIZE]
    out = run_guard(guard(), upstream(texas), IDENTIFY)
    assert out[0] == dataclasses.replace(IDENTIFY, enabled=False)
    assert ClientNotice("X-VoiceGuard-Stripped", "speaker_identification; policy=TX-CUBI-CONSENT") in out


def test_the_jurisdiction_comes_from_the_callers_number_when_no_header_names_one() -> None:
    out = run_guard(guard(), upstream(caller(None)), DIARIZE)  # +1 312: Chicago
    assert out[0].enabled is False  # type: ignore[union-attr]
    assert isinstance(out[1], PolicyDecision) and out[1].rule_id == "BIPA-15b-CONSENT"


def test_without_a_published_retention_schedule_illinois_strips_even_with_consent() -> None:
    bare = BiometricsGuard(
        consent_rules(load_settings(None, env={}), PolicyStore(shipped_packs(), default_jurisdiction="EU"))
    )
    out = run_guard(bare, upstream(caller("US-IL", consent())), DIARIZE)
    assert out[0].enabled is False  # type: ignore[union-attr]
    [decision] = [e for e in out if isinstance(e, PolicyDecision)]
    assert (decision.rule_id, decision.outcome) == ("BIPA-15a-POLICY", "no_retention_schedule")
    published = run_guard(guard(), upstream(caller("US-IL", consent())), DIARIZE)
    assert published[0] is DIARIZE
    assert ("policy_sha256", "ab" * 32) in published[1].evidence  # type: ignore[union-attr]


def test_a_feature_the_request_cannot_go_without_is_refused_by_the_guard_not_stripped() -> None:
    unstrippable = dataclasses.replace(DIARIZE, strippable=False)
    with pytest.raises(Blocked) as refused:
        run_guard(guard(), upstream(caller("US-IL")), unstrippable)
    assert refused.value.status == 451 and refused.value.rule_id == "BIPA-15b-CONSENT"
    assert run_guard(guard(), upstream(caller("US-IL", consent())), unstrippable)[0] is unstrippable


def test_consent_given_under_another_states_notice_does_not_count() -> None:
    record = consent(jurisdiction="US-TX")
    out = run_guard(guard(), upstream(caller("US-IL", record)), DIARIZE)
    assert out[0].enabled is False  # type: ignore[union-attr]


def test_withdrawn_expired_or_other_purpose_consent_does_not_count() -> None:
    past = now_utc() - timedelta(seconds=1)
    for record in (
        consent(withdrawn_at=past),
        consent(expires_at=past),
        consent(purpose=Purpose.TRANSCRIPTION),
    ):
        out = run_guard(guard(), upstream(caller("US-IL", record)), DIARIZE)
        assert out[0].enabled is False, record  # type: ignore[union-attr]


def test_refuse_mode_answers_451_instead_of_stripping() -> None:
    with pytest.raises(Blocked) as refused:
        run_guard(guard(enforcement="refuse"), upstream(caller("US-IL")), DIARIZE)
    assert refused.value.status == 451 and refused.value.rule_id == "BIPA-15b-CONSENT"
    assert "no_consent" in refused.value.message


def test_voice_cloning_and_enrolment_are_refused_even_in_strip_mode() -> None:
    for feature in (BiometricFeature.VOICE_CLONING, BiometricFeature.SPEAKER_ENROLMENT):
        with pytest.raises(Blocked) as refused:
            run_guard(guard(), upstream(caller("EU")), BiometricRequest(feature))
        assert refused.value.status == 451 and refused.value.rule_id == "GDPR-9"


def test_voice_cloning_consent_lets_cloning_through() -> None:
    record = consent(purpose=Purpose.VOICE_CLONING, jurisdiction="EU")
    cloning = BiometricRequest(BiometricFeature.VOICE_CLONING)
    out = run_guard(guard(), upstream(caller("DE", record)), cloning)
    assert out[0] is cloning


def test_calls_outside_biometric_jurisdictions_or_without_one_are_untouched() -> None:
    assert run_guard(guard(), upstream(caller("US-CA")), DIARIZE) == [DIARIZE]
    unknown = caller(None, subject="account-42")
    assert run_guard(guard(default_jurisdiction=None), upstream(unknown), DIARIZE) == [DIARIZE]


def test_a_call_of_unknown_jurisdiction_gets_the_default_jurisdictions_rules() -> None:
    out = run_guard(guard(), upstream(caller(None, subject="account-42")), DIARIZE)
    assert isinstance(out[1], PolicyDecision) and out[1].rule_id == "GDPR-9"


def test_unknown_jurisdiction_can_be_treated_as_the_strictest() -> None:
    strictest = guard(treat_unknown_jurisdiction_as="US-IL")
    out = run_guard(strictest, upstream(caller(None, subject="account-42")), DIARIZE)
    assert out[0].enabled is False  # type: ignore[union-attr]
    assert isinstance(out[1], PolicyDecision) and out[1].rule_id == "BIPA-15b-CONSENT"


def test_a_call_without_a_subject_or_with_the_store_down_is_treated_as_without_consent() -> None:
    no_subject = caller("US-IL", attached=False)
    out = run_guard(guard(), upstream(no_subject), DIARIZE)
    assert isinstance(out[1], PolicyDecision) and out[1].outcome == "no_subject"
    down = caller("US-IL", consent())
    view = down.scratch(CALL_CONSENT, ConsentSlot).view
    assert view is not None
    view.fail("connection refused")
    out = run_guard(guard(), upstream(down), DIARIZE)
    assert isinstance(out[1], PolicyDecision) and out[1].outcome == "store_unavailable"


def test_a_second_voice_on_the_call_voids_the_subjects_voiceprint_consent() -> None:
    call = caller("US-IL", consent())
    call.scratch(CALL_SPEAKERS, CallSpeakers).voices = 2
    out = run_guard(guard(), upstream(call), DIARIZE)
    assert isinstance(out[1], PolicyDecision) and out[1].outcome == "speaker_without_consent"


def labelled(text: str = "hi there") -> Transcript:
    words = tuple(Word(w, 0.0, 0.1, speaker="0") for w in text.split())
    return Transcript(text, words=words, speaker="0")


def test_speaker_labels_are_stripped_from_replies_and_reported_once_per_consent_state() -> None:
    call = caller("US-IL")
    out = run_guard(guard(), to_client(call), labelled(), labelled("second one"))
    transcripts = [e for e in out if isinstance(e, Transcript)]
    assert [t.text for t in transcripts] == ["hi there", "second one"]
    assert all(t.speaker is None and all(w.speaker is None for w in t.words) for t in transcripts)
    assert transcripts[0].words[1] == Word("there", 0.0, 0.1)
    decisions = [e for e in out if isinstance(e, PolicyDecision)]
    assert len(decisions) == 1 and decisions[0].evidence[0] == ("feature", "speaker_labels")


def test_speaker_labels_stay_with_consent_and_go_once_it_is_withdrawn_mid_call() -> None:
    record = consent()
    call = caller("US-IL", record)
    g = guard()
    event = labelled()
    assert run_guard(g, to_client(call), event) == [event]
    view = call.scratch(CALL_CONSENT, ConsentSlot).view
    assert view is not None
    view.replace((dataclasses.replace(record, withdrawn_at=now_utc()),))
    out = run_guard(g, to_client(call), event)
    assert isinstance(out[0], Transcript) and out[0].speaker is None
    assert isinstance(out[1], PolicyDecision) and out[1].outcome == "no_consent"


def test_the_default_chain_includes_the_biometrics_guard() -> None:
    names = [g.name for g in build_guards(load_settings(None, env={}, overrides={"pii": {"enabled": False}}))]
    assert "biometrics" in names


def test_eu_rules_cover_member_states_and_country_rules_cover_their_regions() -> None:
    assert covers("EU", "DE") and covers("EU", "NO") and not covers("EU", "US")
    assert covers("US", "US-IL") and not covers("US-IL", "US") and not covers("US-I", "US-IL")


def test_caller_audio_the_detector_could_not_check_voids_the_subjects_voiceprint_consent() -> None:
    call = caller("US-IL", consent())
    call.scratch(CALL_SPEAKERS, CallSpeakers).unchecked(1.0, "overloaded")
    out = run_guard(guard(), upstream(call), DIARIZE)
    assert isinstance(out[1], PolicyDecision) and out[1].outcome == "speaker_unverified"
