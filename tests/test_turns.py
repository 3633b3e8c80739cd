"""Turns and their timestamps, driven with exact times."""

from __future__ import annotations

from voiceguard.events import (
    AudioChunk,
    Direction,
    LLMRequest,
    ResponseDone,
    ResponseStarted,
    SpeechStarted,
    SpeechStopped,
    Stage,
    TextDelta,
    Transcript,
    Usage,
    Word,
)
from voiceguard.turns import TURN_IDLE_NS, TurnTracker

MS = 1_000_000


def test_cascade_turn_records_every_stage_and_the_breakdown_adds_up() -> None:
    tracker = TurnTracker()
    # live STT: 1 s of user audio in 100 ms frames, VAD end of speech reported 60 ms after the last frame
    for frame in range(10):
        tracker.observe(Stage.STT, AudioChunk(Direction.TO_UPSTREAM, 3200, 0.1), (frame * 100) * MS)
    tracker.observe(Stage.STT, SpeechStarted(), 50 * MS)
    tracker.observe(Stage.STT, SpeechStopped(audio_s=0.9), 960 * MS)
    tracker.observe(Stage.STT, Transcript("pay my bill", is_final=True), 1_100 * MS)
    tracker.request_sent(Stage.LLM, 1_120 * MS)
    tracker.observe(Stage.LLM, LLMRequest(model="gpt-4o-mini", stream=True), 1_120 * MS)
    tracker.observe(Stage.LLM, TextDelta("Sure"), 1_400 * MS)
    tracker.observe(Stage.LLM, ResponseDone(), 1_600 * MS)
    tracker.request_sent(Stage.TTS, 1_450 * MS)
    tracker.observe(Stage.TTS, AudioChunk(Direction.TO_CLIENT, 4800, 0.1), 1_650 * MS)
    tracker.observe(Stage.TTS, AudioChunk(Direction.TO_CLIENT, 4800, 0.1), 1_700 * MS)
    [turn] = tracker.drain(10_000 * MS, ending=True)
    breakdown = turn.breakdown_ms()
    assert breakdown["end_of_speech_detection"] == 160.0  # frame holding 0.9 s arrived at 800 ms
    assert breakdown["stt_finalization"] == 140.0
    assert breakdown["gap_transcript_to_llm"] == 20.0
    assert breakdown["llm_time_to_first_token"] == 280.0
    assert breakdown["gap_llm_to_tts"] == 50.0
    assert breakdown["tts_time_to_first_byte"] == 200.0
    assert breakdown["voice_to_voice"] == 690.0
    assert turn.models == {"llm": "gpt-4o-mini"}
    assert turn.audio_out_s == 0.2 and not turn.interrupted


def test_next_user_input_opens_a_new_turn() -> None:
    tracker = TurnTracker()
    tracker.request_sent(Stage.STT, 0)
    tracker.observe(Stage.STT, Transcript("first"), 100 * MS)
    tracker.request_sent(Stage.LLM, 200 * MS)
    tracker.observe(Stage.LLM, TextDelta("a"), 300 * MS)
    tracker.request_sent(Stage.STT, 2_000 * MS)
    closed = tracker.drain(2_001 * MS)
    assert [t.number for t in closed] == [1]
    assert tracker.current is not None and tracker.current.number == 2


def test_speech_while_agent_audio_plays_is_an_interruption_with_stop_latency() -> None:
    tracker = TurnTracker()
    tracker.observe(Stage.REALTIME, SpeechStarted(), 0)
    tracker.observe(Stage.REALTIME, SpeechStopped(), 500 * MS)
    tracker.observe(Stage.REALTIME, ResponseStarted("r1"), 520 * MS)
    tracker.observe(Stage.REALTIME, AudioChunk(Direction.TO_CLIENT, 48000, 1.0), 700 * MS)
    tracker.observe(Stage.REALTIME, SpeechStarted(), 1_000 * MS)  # user barges in while 1 s of audio plays
    tracker.observe(Stage.REALTIME, AudioChunk(Direction.TO_CLIENT, 4800, 0.1), 1_050 * MS)
    tracker.observe(Stage.REALTIME, ResponseDone("r1", "cancelled"), 1_080 * MS)
    [interrupted] = tracker.drain(1_100 * MS)
    assert interrupted.interrupted
    assert interrupted.breakdown_ms()["barge_in_stop"] == 50.0
    assert interrupted.breakdown_ms()["voice_to_voice"] == 200.0


def test_realtime_transcript_after_reply_started_stays_in_the_turn() -> None:
    tracker = TurnTracker()
    tracker.observe(Stage.REALTIME, SpeechStopped(), 0)
    tracker.observe(Stage.REALTIME, ResponseStarted("r1"), 10 * MS)
    tracker.observe(Stage.REALTIME, Transcript("late transcript"), 200 * MS)
    assert tracker.current is not None and tracker.current.number == 1
    assert tracker.current.transcript_final_ns == 200 * MS


def test_a_finished_turn_closes_after_it_goes_idle() -> None:
    tracker = TurnTracker()
    tracker.request_sent(Stage.LLM, 0)
    tracker.observe(Stage.LLM, Usage(input_tokens=10, output_tokens=5), 100 * MS)
    tracker.observe(Stage.LLM, ResponseDone(), 100 * MS)
    assert tracker.drain(100 * MS + TURN_IDLE_NS - 1) == []
    [turn] = tracker.drain(100 * MS + TURN_IDLE_NS)
    assert (turn.input_tokens, turn.output_tokens) == (10, 5)


def test_endpointed_transcript_times_end_of_speech_detection_from_its_last_word() -> None:
    tracker = TurnTracker()
    # Deepgram live: no VAD event, the final result carries speech_final and word times in the stream
    for frame in range(10):
        tracker.observe(Stage.STT, AudioChunk(Direction.TO_UPSTREAM, 3200, 0.1), (frame * 100) * MS)
    words = (Word("pay", 0.1, 0.4), Word("bill", 0.4, 0.7))
    tracker.observe(Stage.STT, Transcript("pay bill", is_final=True, end_of_turn=True, words=words), 880 * MS)
    [turn] = tracker.drain(10_000 * MS, ending=True)
    breakdown = turn.breakdown_ms()
    assert turn.end_of_speech_source == "stt_endpointing"
    assert breakdown["end_of_speech_detection"] == 280.0  # the frame holding 0.7 s arrived at 600 ms
    assert breakdown["stt_finalization"] == 0.0
