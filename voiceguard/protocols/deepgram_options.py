"""Deepgram query options that matter to policy: the ones that create voiceprints, and the audio format.

Diarization (``diarize``, ``diarize_model``, the legacy ``diarize_version``) labels each word with a speaker
by comparing voices, which the biometric packs treat as voiceprint collection. Each such option becomes a
``BiometricRequest`` whose origin names the option; when the guards return it disabled (or hold it back:
fail closed), the option is removed from the query before it goes upstream. Every other option passes as
the client sent it, in its order, repeats included (``redact=pci&redact=ssn``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from multidict import MultiDict, MultiMapping

from voiceguard.events import BiometricFeature, BiometricRequest, Event
from voiceguard.protocols.audioformat import AudioFormat, positive_int

BIOMETRIC_OPTIONS: Final = {
    "diarize": BiometricFeature.DIARIZATION,
    "diarize_model": BiometricFeature.DIARIZATION,
    "diarize_version": BiometricFeature.DIARIZATION,
}
_OFF: Final = frozenset({"", "false", "0", "no", "off"})


@dataclass(frozen=True, slots=True)
class QueryOrigin:
    """An option in the query string: its name, its value, and its position among the parameters."""

    key: str
    value: str
    position: int


def enabled(value: str | None) -> bool:
    """Whether a boolean query option is on (Deepgram reads ``true``/``false``)."""
    return value is not None and value.strip().lower() not in _OFF


def biometric_requests(query: MultiMapping[str]) -> list[Event]:
    """One ``BiometricRequest`` per option in ``query`` that turns on a voiceprint feature."""
    events: list[Event] = []
    for position, (key, value) in enumerate(query.items()):
        feature = BIOMETRIC_OPTIONS.get(key)
        if feature is not None and enabled(value):
            events.append(BiometricRequest(feature, origin=QueryOrigin(key, value, position)))
    return events


def strip_refused(
    query: MultiMapping[str], originals: Sequence[Event], out: Sequence[Event]
) -> MultiDict[str] | None:
    """The query without the options whose request the guards disabled or held; ``None`` if none were."""
    kept = {
        event.origin
        for event in out
        if isinstance(event, BiometricRequest) and event.enabled and isinstance(event.origin, QueryOrigin)
    }
    refused = {
        original.origin.position
        for original in originals
        if isinstance(original, BiometricRequest)
        and isinstance(original.origin, QueryOrigin)
        and original.origin not in kept
    }
    if not refused:
        return None
    return MultiDict(
        (key, value) for position, (key, value) in enumerate(query.items()) if position not in refused
    )


def listen_audio_format(query: MultiMapping[str]) -> AudioFormat:
    """The format of audio sent to ``/v1/listen``: raw audio declares it, containerised audio does not."""
    return AudioFormat(
        encoding=query.get("encoding"),
        sample_rate=positive_int(query.get("sample_rate")),
        channels=positive_int(query.get("channels")) or 1,
    )


SPEAK_DEFAULT_ENCODING: Final = "linear16"
SPEAK_DEFAULT_RATES: Final = {"linear16": 24_000, "mulaw": 8_000, "alaw": 8_000}


def speak_audio_format(query: MultiMapping[str]) -> AudioFormat:
    """The format of audio ``/v1/speak`` returns; Deepgram's documented default is linear16 at 24 kHz."""
    encoding = query.get("encoding") or SPEAK_DEFAULT_ENCODING
    return AudioFormat(
        encoding=encoding,
        sample_rate=positive_int(query.get("sample_rate")) or SPEAK_DEFAULT_RATES.get(encoding),
        bit_rate=positive_int(query.get("bit_rate")),
    )
