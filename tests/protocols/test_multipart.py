"""multipart/form-data read in place: parts located, one value replaced, every other byte kept."""

from __future__ import annotations

from voiceguard.protocols import multipart

BODY = (
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="prompt"\r\n\r\n'
    b"Jane Roe\r\n"
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="file"; filename="a.wav"\r\n'
    b"Content-Type: audio/wav\r\n\r\n"
    b"RIFF\r\n--not-a-boundary\r\n"
    b"\r\n--XyZ--\r\n"
)


def test_boundary_is_read_from_the_content_type() -> None:
    assert multipart.boundary_of('multipart/form-data; boundary="XyZ"') == b"XyZ"
    assert multipart.boundary_of("multipart/form-data; boundary=XyZ; charset=utf-8") == b"XyZ"
    assert multipart.boundary_of("application/json") is None


def test_parts_are_located_with_names_files_and_types() -> None:
    parts = multipart.parse(BODY, b"XyZ")
    assert parts is not None
    prompt, audio = parts
    assert (prompt.name, prompt.filename, BODY[prompt.start : prompt.end]) == ("prompt", None, b"Jane Roe")
    assert (audio.name, audio.filename, audio.content_type) == ("file", "a.wav", "audio/wav")
    assert BODY[audio.start : audio.end] == b"RIFF\r\n--not-a-boundary\r\n"


def test_replacing_a_value_keeps_every_other_byte() -> None:
    parts = multipart.parse(BODY, b"XyZ")
    assert parts is not None
    assert multipart.replace(BODY, [(parts[0], b"<NAME>")]) == BODY.replace(b"Jane Roe", b"<NAME>")


def test_malformed_bodies_are_refused() -> None:
    assert multipart.parse(BODY, b"other") is None
    assert multipart.parse(BODY[:60], b"XyZ") is None
    assert multipart.parse(b"--XyZ\r\nno headers end", b"XyZ") is None


def test_a_removed_part_goes_with_its_delimiter_and_headers() -> None:
    parts = multipart.parse(BODY, b"XyZ")
    assert parts is not None
    without_prompt = multipart.replace(BODY, [], removed=[parts[0]])
    assert without_prompt == BODY[BODY.index(b'--XyZ\r\nContent-Disposition: form-data; name="file"') :]
    reparsed = multipart.parse(without_prompt, b"XyZ")
    assert reparsed is not None and [part.name for part in reparsed] == ["file"]
    without_file = multipart.replace(BODY, [(parts[0], b"<NAME>")], removed=[parts[1]])
    reparsed = multipart.parse(without_file, b"XyZ")
    assert reparsed is not None and [part.name for part in reparsed] == ["prompt"]
    assert without_file[reparsed[0].start : reparsed[0].end] == b"<NAME>"
