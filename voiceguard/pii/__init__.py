"""PII detection for speech: spoken forms, split numbers, pseudonyms, streams (pure code, no I/O).

``engine.PiiEngine`` (Presidio + voiceguard recognisers) finds entities; ``policy.PiiPolicy`` says what to
do with each; the guard (``voiceguard.guards.pii``) applies it in flight and ``anonymize.PiiRecordRedactor``
to everything recorded; ``audio`` silences redacted words in kept recordings.
"""
