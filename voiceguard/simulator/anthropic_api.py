"""A simulated Anthropic API speaking the real wire protocol: Messages as JSON and as named SSE events.

Tool use is streamed as ``input_json_delta`` fragments, usage arrives in ``message_start`` and
``message_delta`` the way the vendor splits it, and ``/v1/chat/completions`` answers in OpenAI's format
(Anthropic's OpenAI SDK compatibility layer). Replies come from the ``Backend`` script, not a model.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from voiceguard.simulator import openai_api
from voiceguard.simulator.backend import Backend, Received, Reply, word_pieces

BACKEND = web.AppKey("anthropic_backend", Backend)
INPUT_TOKENS = 21
CACHE_READ_TOKENS = 4


def _error(status: int, error_type: str, message: str) -> web.Response:
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    return web.json_response(body, status=status)


def _credential(request: web.Request) -> str | None:
    """``x-api-key`` (the documented header) or ``Authorization: Bearer`` (what newer SDKs send)."""
    if "x-api-key" in request.headers:
        return request.headers["x-api-key"]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = [
            block.get("text", "")
            for block in content or []
            if isinstance(block, dict) and block.get("type") == "text"
        ]
        if texts:
            return " ".join(texts)
        return "tool results received"
    return ""


def _usage(output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": INPUT_TOKENS,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": CACHE_READ_TOKENS,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _content(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.text:
        blocks.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": f"toolu_{uuid.uuid4().hex[:20]}",
                "name": call.name,
                "input": orjson.loads(call.arguments),
            }
        )
    return blocks


async def messages(request: web.Request) -> web.StreamResponse:
    backend = request.app[BACKEND]
    raw = await request.read()
    backend.received.append(
        Received(request.method, request.path, list(request.query.items()), CIMultiDict(request.headers), raw)
    )
    if not backend.authorised(_credential(request)):
        return _error(401, "authentication_error", "invalid x-api-key")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _error(400, "invalid_request_error", "Request body is not valid JSON")
    if not isinstance(body, dict) or not isinstance(body.get("max_tokens"), int):
        return _error(400, "invalid_request_error", "max_tokens: Field required")
    reply = backend.responder(_last_user_text(body.get("messages") or []))
    await asyncio.sleep(backend.timings.first_byte)
    message_id = f"msg_{uuid.uuid4().hex[:24]}"
    model = body.get("model", "claude-sonnet-5-5")
    stop_reason = "tool_use" if reply.tool_calls else "end_turn"
    output_tokens = max(1, len(reply.text.split())) + 8 * len(reply.tool_calls)
    if not body.get("stream"):
        return web.json_response(
            {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": _content(reply),
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": _usage(output_tokens),
            }
        )
    return await _stream(request, backend, reply, message_id, model, stop_reason, output_tokens)


async def _stream(
    request: web.Request,
    backend: Backend,
    reply: Reply,
    message_id: str,
    model: str,
    stop_reason: str,
    output_tokens: int,
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
    await response.prepare(request)

    async def send(name: str, data: dict[str, Any]) -> None:
        await response.write(b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n")

    start: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(1),
    }
    await send("message_start", {"type": "message_start", "message": start})
    await asyncio.sleep(backend.timings.first_token)
    await send("ping", {"type": "ping"})
    index = 0
    if reply.text:
        block: dict[str, Any] = {"type": "text", "text": ""}
        await send(
            "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}
        )
        for word in word_pieces(reply.text):
            await asyncio.sleep(backend.timings.chunk_interval)
            delta = {"type": "text_delta", "text": word}
            await send("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        await send("content_block_stop", {"type": "content_block_stop", "index": index})
        index += 1
    for call in reply.tool_calls:
        block = {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:20]}", "name": call.name, "input": {}}
        await send(
            "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}
        )
        half = len(call.arguments) // 2
        for fragment in (call.arguments[:half], call.arguments[half:]):
            await asyncio.sleep(backend.timings.chunk_interval)
            delta = {"type": "input_json_delta", "partial_json": fragment}
            await send("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        await send("content_block_stop", {"type": "content_block_stop", "index": index})
        index += 1
    await send(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
    )
    await send("message_stop", {"type": "message_stop"})
    await response.write_eof()
    return response


def anthropic_app(backend: Backend) -> web.Application:
    """The simulated API at ``/v1/...``, as an aiohttp application."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[BACKEND] = backend
    app[openai_api.BACKEND] = backend
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1/chat/completions", openai_api.chat_completions)
    return app
