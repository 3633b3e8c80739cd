"""The Responses API of the SIMULATED OpenAI (``POST /v1/responses``), JSON and streamed.

A streamed reply is the real event sequence (REFERENCE-protocols.md §2): ``response.created``,
``response.in_progress``, per output item ``output_item.added``, content part, text or function-call
argument deltas, the ``.done`` events, and ``response.completed`` repeating the whole response with usage;
each as ``event: <type>`` + ``data: {..., "sequence_number": n}``. Replies come from the ``Backend``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from voiceguard.simulator.backend import Backend, Received, Reply


def _error(status: int, message: str, code: str | None = None) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
    return web.json_response(body, status=status)


def _last_user_text(items: object) -> str:
    if isinstance(items, str):
        return items
    for item in reversed(items if isinstance(items, list) else []):
        if not isinstance(item, dict) or item.get("role") != "user":
            continue
        content = item.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _words(text: str) -> list[str]:
    pieces = text.split(" ")
    return [piece if index == 0 else " " + piece for index, piece in enumerate(pieces)]


def _output(reply: Reply) -> list[dict[str, Any]]:
    if reply.tool_calls:
        return [
            {
                "id": f"fc_{uuid.uuid4().hex[:20]}",
                "type": "function_call",
                "status": "completed",
                "call_id": f"call_{uuid.uuid4().hex[:12]}",
                "name": call.name,
                "arguments": call.arguments,
            }
            for call in reply.tool_calls
        ]
    part = {"type": "output_text", "text": reply.text, "annotations": [], "logprobs": []}
    message = {
        "id": f"msg_{uuid.uuid4().hex[:20]}",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [part],
    }
    return [message]


def _response(
    response_id: str, body: dict[str, Any], reply: Reply, output: list[dict[str, Any]], status: str
) -> dict[str, Any]:
    words = max(1, len(reply.text.split()))
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "model": body.get("model", "gpt-4.1-mini"),
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": body.get("tools", []),
        "text": {"format": {"type": "text"}},
        "usage": None
        if status == "in_progress"
        else {
            "input_tokens": 14,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": words,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 14 + words,
        },
    }


def responses_handler(backend: Backend) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The ``POST /v1/responses`` endpoint of the simulated API."""

    async def responses(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        backend.received.append(
            Received(
                request.method, request.path, list(request.query.items()), CIMultiDict(request.headers), raw
            )
        )
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not backend.authorised(key.strip()):
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict) or "input" not in body:
            return _error(400, "Missing required parameter: 'input'.")
        response_id = f"resp_{uuid.uuid4().hex[:24]}"
        reply = backend.responder(_last_user_text(body.get("input")))
        await asyncio.sleep(backend.timings.first_byte)
        if not body.get("stream"):
            return web.json_response(_response(response_id, body, reply, _output(reply), "completed"))
        return await _stream(request, backend, response_id, body, reply)

    return responses


async def _stream(
    request: web.Request, backend: Backend, response_id: str, body: dict[str, Any], reply: Reply
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
    await response.prepare(request)
    sequence = 0

    async def send(kind: str, payload: dict[str, Any]) -> None:
        nonlocal sequence
        event = {"type": kind, "sequence_number": sequence, **payload}
        sequence += 1
        await response.write(b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n")

    await send("response.created", {"response": _response(response_id, body, reply, [], "in_progress")})
    await send("response.in_progress", {"response": _response(response_id, body, reply, [], "in_progress")})
    await asyncio.sleep(backend.timings.first_token)
    final = _output(reply)
    for index, item in enumerate(final):
        ids = {"item_id": item["id"], "output_index": index}
        if item["type"] == "function_call":
            await send(
                "response.output_item.added",
                {"output_index": index, "item": {**item, "arguments": "", "status": "in_progress"}},
            )
            half = len(item["arguments"]) // 2
            for fragment in (item["arguments"][:half], item["arguments"][half:]):
                await asyncio.sleep(backend.timings.chunk_interval)
                await send("response.function_call_arguments.delta", {**ids, "delta": fragment})
            await send(
                "response.function_call_arguments.done",
                {**ids, "name": item["name"], "arguments": item["arguments"]},
            )
        else:
            await send(
                "response.output_item.added",
                {"output_index": index, "item": {**item, "content": [], "status": "in_progress"}},
            )
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            await send("response.content_part.added", {**ids, "content_index": 0, "part": part})
            for word in _words(reply.text):
                await asyncio.sleep(backend.timings.chunk_interval)
                await send(
                    "response.output_text.delta", {**ids, "content_index": 0, "delta": word, "logprobs": []}
                )
            await send(
                "response.output_text.done", {**ids, "content_index": 0, "text": reply.text, "logprobs": []}
            )
            await send("response.content_part.done", {**ids, "content_index": 0, "part": item["content"][0]})
        await send("response.output_item.done", {"output_index": index, "item": item})
    await send("response.completed", {"response": _response(response_id, body, reply, final, "completed")})
    await response.write_eof()
    return response
