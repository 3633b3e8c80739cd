"""McAdams anonymisation: unchanged at alpha 1, a different voice below it, streamed with a fixed delay."""

from __future__ import annotations

import asyncio

import numpy as np

from tests.conftest import ProxyFactory
from tests.test_deepgram_sdk_dropin import deepgram_client
from voiceguard.biometrics.anonymise import McAdamsAnonymiser
from voiceguard.simulator import RunningApp
from voiceguard.simulator.backend import Backend

RATE = 16_000


def vowel(
    seconds: float = 1.0, pitch: float = 140.0, formants: tuple[float, ...] = (700, 1200, 2600)
) -> bytes:
    """A crude voiced vowel: a pulse train through formant resonators (what LPC models well)."""
    n = int(seconds * RATE)
    source = np.zeros(n)
    source[:: int(RATE / pitch)] = 1.0
    signal = source
    for formant in formants:
        r, theta = 0.97, 2 * np.pi * formant / RATE
        a = [1.0, -2 * r * np.cos(theta), r * r]
        out = np.zeros(n)
        for i in range(n):
            out[i] = signal[i] - a[1] * out[i - 1] * (i >= 1) - a[2] * out[i - 2] * (i >= 2)
        signal = out
    signal = 0.5 * signal / np.abs(signal).max()
    return (signal * 32767).astype("<i2").tobytes()


def stream(anonymiser: McAdamsAnonymiser, pcm: bytes, chunk: int = 640) -> bytes:
    return (
        b"".join(anonymiser.process(pcm[i : i + chunk]) for i in range(0, len(pcm), chunk))
        + anonymiser.flush()
    )


def spectrum_peak(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(float)
    magnitude = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / RATE)[np.argmax(magnitude)])


def test_alpha_one_gives_back_the_same_audio_after_a_fixed_delay() -> None:
    pcm = vowel()
    anonymiser = McAdamsAnonymiser(RATE, alpha=1.0)
    out = stream(anonymiser, pcm, chunk=333)  # odd sizes: samples split across chunks
    delay = anonymiser.delay_samples * 2
    assert len(out) == len(pcm) and anonymiser.delay_samples == 160
    assert out[:delay] == b"\0" * delay
    original = np.frombuffer(pcm, dtype="<i2").astype(int)
    shifted = np.frombuffer(out, dtype="<i2").astype(int)[160:]
    assert np.abs(shifted - original[: len(shifted)]).max() <= 2


def test_a_lower_alpha_moves_the_formants_and_keeps_the_length() -> None:
    pcm = vowel()
    out = stream(McAdamsAnonymiser(RATE, alpha=0.8), pcm)
    assert len(out) == len(pcm)
    before, after = spectrum_peak(pcm), spectrum_peak(out)
    assert abs(before - 700) < 80
    assert abs(after - before) > 80


async def test_speech_services_receive_anonymised_audio_through_the_proxy(
    make_proxy: ProxyFactory, deepgram_upstream: RunningApp, backend: Backend
) -> None:
    proxy = await make_proxy({"deepgram": deepgram_upstream.url}, biometrics={"anonymise_stt_audio": True})
    pcm = vowel(1.2)
    async with (
        deepgram_client(proxy) as client,
        client.listen.v1.connect(model="nova-3", encoding="linear16", sample_rate="16000") as socket,
    ):
        for offset in range(0, len(pcm), 640):
            await socket.send_media(pcm[offset : offset + 640])
        await socket.send_close_stream()
        async for _message in socket:
            pass
    await asyncio.sleep(0)
    received = b"".join(f for f in backend.received[-1].frames if isinstance(f, bytes))
    assert len(received) == len(pcm)
    assert received != pcm and pcm[3200:3264] not in received
    assert abs(spectrum_peak(received) - spectrum_peak(pcm)) > 80
