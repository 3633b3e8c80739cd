"""The fail-closed record redactor keeps no word of the caller."""

from voiceguard.redaction import MaskEverything


def test_mask_everything_keeps_only_the_shape() -> None:
    assert MaskEverything().redact("My card is 4111-1111, José.") == "** **** ** ****-****, ****."


def test_a_recorded_path_keeps_ids_and_masks_numbers_and_addresses() -> None:
    from voiceguard.redaction import recordable_path

    assert recordable_path("/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream") == (
        "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream"
    )
    assert recordable_path("/v1beta/models/gemini-2.0-flash:streamGenerateContent").endswith(
        "gemini-2.0-flash:streamGenerateContent"
    )
    assert (
        recordable_path("/v1/lookup/+1%20(312)%20555-0100/4111111111111111") == "/v1/lookup/[number]/[number]"
    )
    assert recordable_path("/u/jane.canary@example.com") == "/u/[email]"
    assert "\n" not in recordable_path("/a%0Ab")
