"""A simulated OpenAI API speaking the real wire protocol (REFERENCE-protocols.md §1, §2).

Chat completions (JSON and SSE with the usage chunk and tool calls), the Responses API
(``openai_responses``), audio transcriptions (multipart in; json, verbose_json, text, srt, vtt out,
diarized_json from a ``*-diarize`` model, with known speakers named by ``known_speaker_names[]``, or
with ``stream=true`` SSE ``transcript.text.*`` events), speech (binary audio streamed, or with
``stream_format: "sse"`` ``speech.audio.*`` events) and the Realtime WebSocket (``openai_realtime``). It is
a simulator: replies come from the ``Backend`` script, not a model.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from typing import Any

import orjson
from aiohttp import BodyPartReader, web
from multidict import CIMultiDict

from voiceguard.simulator.audio import CONTENT_TYPES, silent_mp3, speech_for, wav
from voiceguard.simulator.backend import Backend, Received, Reply
from voiceguard.simulator.openai_realtime import realtime_handler
from voiceguard.simulator.openai_responses import responses_handler

BACKEND = web.AppKey("openai_backend", Backend)
SPEECH_CHUNK_BYTES = 4800
"""100 ms of 24 kHz 16-bit mono per streamed chunk."""


def _error(status: int, message: str, error_type: str, code: str | None = None) -> web.Response:
    body = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    return web.json_response(body, status=status)


def _authorised(request: web.Request) -> bool:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and request.app[BACKEND].authorised(key.strip())


def _record(request: web.Request, body: bytes) -> None:
    request.app[BACKEND].received.append(
        Received(
            request.method, request.path, list(request.query.items()), CIMultiDict(request.headers), body
        )
    )


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _words(text: str) -> list[str]:
    pieces = text.split(" ")
    return [piece if index == 0 else " " + piece for index, piece in enumerate(pieces)]


async def chat_completions(request: web.Request) -> web.StreamResponse:
    backend = request.app[BACKEND]
    raw = await request.read()
    _record(request, raw)
    if not _authorised(request):
        return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
    reply = backend.responder(_last_user_text(body.get("messages") or []))
    await asyncio.sleep(backend.timings.first_byte)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    model = body.get("model", "gpt-4o-mini")
    usage = {
        "prompt_tokens": 12,
        "completion_tokens": max(1, len(reply.text.split())),
        "total_tokens": 12 + max(1, len(reply.text.split())),
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }
    if not body.get("stream"):
        return web.json_response(_completion(completion_id, created, model, reply, usage))
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
    await response.prepare(request)
    await asyncio.sleep(backend.timings.first_token)
    base = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_sim",
        "service_tier": "default",
    }

    async def send(choices: list[dict[str, Any]], usage_value: Any = None) -> None:
        chunk = {**base, "choices": choices, "usage": usage_value}
        await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")

    await send(
        [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": "", "refusal": None},
                "logprobs": None,
                "finish_reason": None,
            }
        ]
    )
    for word in _words(reply.text) if reply.text else []:
        await asyncio.sleep(backend.timings.chunk_interval)
        await send([{"index": 0, "delta": {"content": word}, "logprobs": None, "finish_reason": None}])
    for index, call in enumerate(reply.tool_calls):
        head = {
            "index": index,
            "id": f"call_{uuid.uuid4().hex[:12]}",
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        await send([{"index": 0, "delta": {"tool_calls": [head]}, "logprobs": None, "finish_reason": None}])
        half = len(call.arguments) // 2
        for fragment in (call.arguments[:half], call.arguments[half:]):
            await asyncio.sleep(backend.timings.chunk_interval)
            delta = {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}
            await send([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}])
    finish = "tool_calls" if reply.tool_calls else "stop"
    await send([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}])
    if include_usage:
        await send([], usage)
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def _completion(
    completion_id: str, created: int, model: str, reply: Reply, usage: dict[str, Any]
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.text or None,
        "refusal": None,
        "annotations": [],
    }
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in reply.tool_calls
        ]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": usage,
        "service_tier": "default",
        "system_fingerprint": "fp_sim",
    }


def _timestamp(seconds: float, separator: str) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours):02}:{int(minutes):02}:{int(secs):02}{separator}{int((secs % 1) * 1000):03}"


async def transcriptions(request: web.Request) -> web.StreamResponse:
    backend = request.app[BACKEND]
    if not _authorised(request):
        await request.read()
        _record(request, b"")
        return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
    fields: dict[str, str] = {}
    form: list[tuple[str, str]] = []
    audio = b""
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file":
            audio = await part.read()
        elif part.name:
            value = await part.text()
            fields[part.name] = value
            form.append((part.name, value))
    _record(request, audio)
    backend.received[-1].form = form
    if not audio:
        return _error(400, "Missing required parameter: 'file'.", "invalid_request_error")
    names = [value for name, value in form if name == "known_speaker_names[]"]
    diarizing = "diarize" in fields.get("model", "")
    if diarizing and "prompt" in fields:
        return _error(400, "Prompt is not supported for diarization models.", "invalid_request_error")
    if names and not diarizing:
        return _error(
            400, "known_speaker_names is only supported by diarization models.", "invalid_request_error"
        )
    text = backend.next_transcript()
    await asyncio.sleep(backend.timings.first_byte)
    duration = max(0.5, len(text) * 0.06)
    response_format = fields.get("response_format", "json")
    if fields.get("stream") == "true":
        return await _transcript_stream(request, backend, text)
    if response_format == "diarized_json" and diarizing:
        return web.json_response(_diarized(text, duration, names[0] if names else "A"))
    if response_format == "text":
        return web.Response(text=text + "\n", content_type="text/plain")
    if response_format in ("srt", "vtt"):
        separator = "," if response_format == "srt" else "."
        cue = f"{_timestamp(0, separator)} --> {_timestamp(duration, separator)}\n{text}\n"
        body = f"1\n{cue}\n" if response_format == "srt" else f"WEBVTT\n\n{cue}\n"
        return web.Response(text=body, content_type="text/plain")
    if response_format == "verbose_json":
        words = text.split()
        step = duration / max(1, len(words))
        return web.json_response(
            {
                "task": "transcribe",
                "language": "english",
                "duration": duration,
                "text": text,
                "words": [
                    {"word": word, "start": round(i * step, 2), "end": round((i + 1) * step, 2)}
                    for i, word in enumerate(words)
                ],
                "segments": [
                    {
                        "id": 0,
                        "seek": 0,
                        "start": 0.0,
                        "end": duration,
                        "text": text,
                        "tokens": [],
                        "temperature": 0.0,
                        "avg_logprob": -0.1,
                        "compression_ratio": 1.0,
                        "no_speech_prob": 0.01,
                    }
                ],
                "usage": {"type": "duration", "seconds": round(duration)},
            }
        )
    return web.json_response(
        {
            "text": text,
            "usage": {
                "type": "tokens",
                "input_tokens": 20,
                "output_tokens": len(text.split()),
                "total_tokens": 20 + len(text.split()),
                "input_token_details": {"text_tokens": 0, "audio_tokens": 20},
            },
        }
    )


def _diarized(text: str, duration: float, speaker: str) -> dict[str, object]:
    """``diarized_json``: one segment per sentence, all from one speaker (a known name if one was given)."""
    sentences = [part.strip() for part in text.replace("?", ".").split(".") if part.strip()] or [text]
    step = duration / len(sentences)
    segments = [
        {
            "type": "transcript.text.segment",
            "id": f"seg_{index:03}",
            "start": round(index * step, 2),
            "end": round((index + 1) * step, 2),
            "text": sentence,
            "speaker": speaker,
        }
        for index, sentence in enumerate(sentences)
    ]
    usage = {"type": "duration", "seconds": round(duration)}
    return {"task": "transcribe", "duration": duration, "text": text, "segments": segments, "usage": usage}


async def _transcript_stream(request: web.Request, backend: Backend, text: str) -> web.StreamResponse:
    """``stream=true``: ``transcript.text.delta`` events, then ``transcript.text.done`` with usage."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
    await response.prepare(request)
    for word in _words(text):
        await asyncio.sleep(backend.timings.chunk_interval)
        event = {"type": "transcript.text.delta", "delta": word, "logprobs": None}
        await response.write(b"data: " + orjson.dumps(event) + b"\n\n")
    usage = {
        "type": "tokens",
        "input_tokens": 20,
        "output_tokens": len(text.split()),
        "total_tokens": 20 + len(text.split()),
        "input_token_details": {"text_tokens": 0, "audio_tokens": 20},
    }
    done = {"type": "transcript.text.done", "text": text, "logprobs": None, "usage": usage}
    await response.write(b"data: " + orjson.dumps(done) + b"\n\n")
    await response.write_eof()
    return response


async def _speech_stream(
    request: web.Request, backend: Backend, audio: bytes, text: str
) -> web.StreamResponse:
    """``stream_format: "sse"``: base64 ``speech.audio.delta`` events, then ``speech.audio.done``."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
    await response.prepare(request)
    await asyncio.sleep(backend.timings_for_speech().first_token)
    for offset in range(0, len(audio), SPEECH_CHUNK_BYTES):
        if offset:
            await asyncio.sleep(backend.timings_for_speech().chunk_interval)
        chunk = base64.b64encode(audio[offset : offset + SPEECH_CHUNK_BYTES]).decode()
        event = {"type": "speech.audio.delta", "audio": chunk}
        await response.write(b"data: " + orjson.dumps(event) + b"\n\n")
    tokens = max(1, len(text.split()))
    usage = {
        "input_tokens": tokens,
        "output_tokens": len(audio) // 480,
        "total_tokens": tokens + len(audio) // 480,
    }
    await response.write(b"data: " + orjson.dumps({"type": "speech.audio.done", "usage": usage}) + b"\n\n")
    await response.write_eof()
    return response


async def speech(request: web.Request) -> web.StreamResponse:
    backend = request.app[BACKEND]
    raw = await request.read()
    _record(request, raw)
    if not _authorised(request):
        return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
    if not isinstance(body.get("input"), str) or not body["input"]:
        return _error(400, "Missing required parameter: 'input'.", "invalid_request_error")
    response_format = body.get("response_format", "mp3")
    pcm = speech_for(body["input"])
    audio = wav(pcm) if response_format == "wav" else pcm
    if response_format == "mp3":
        audio = silent_mp3(len(pcm) / 48_000)
    await asyncio.sleep(backend.timings_for_speech().first_byte)
    if body.get("stream_format") == "sse":
        return await _speech_stream(request, backend, audio, body["input"])
    response = web.StreamResponse(
        headers={
            "Content-Type": CONTENT_TYPES.get(response_format, "audio/mpeg"),
            "X-Simulator-Audio": "mp3-silence" if response_format == "mp3" else "pcm16-tone",
        }
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    await asyncio.sleep(backend.timings_for_speech().first_token)
    for offset in range(0, len(audio), SPEECH_CHUNK_BYTES):
        if offset:
            await asyncio.sleep(backend.timings_for_speech().chunk_interval)
        await response.write(audio[offset : offset + SPEECH_CHUNK_BYTES])
    await response.write_eof()
    return response


def openai_app(backend: Backend) -> web.Application:
    """The simulated API at ``/v1/...``, as an aiohttp application."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[BACKEND] = backend
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/audio/transcriptions", transcriptions)
    app.router.add_post("/v1/audio/speech", speech)
    app.router.add_post("/v1/responses", responses_handler(backend))
    app.router.add_get("/v1/realtime", realtime_handler(backend))
    return app
