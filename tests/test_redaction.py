"""The fail-closed record redactor keeps no word of the caller."""

from voiceguard.redaction import MaskEverything


def test_mask_everything_keeps_only_the_shape() -> None:
    assert MaskEverything().redact("My card is 4111-1111, José.") == "** **** ** ****-****, ****."
