"""What the OpenAI adapters share: tolerant JSON access, usage mapping, and the texts inside items.

Chat, Responses and Realtime all describe conversation items the same way (a ``message`` with a role and
content parts, a ``function_call`` with arguments, a ``function_call_output``); ``item_events`` finds the
text in one, with the path it sits at, so each adapter only says where its items are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from voiceguard.events import (
    AgentText,
    Event,
    PromptText,
    TextRole,
    ToolCall,
    Transcript,
    UpstreamError,
    Usage,
)
from voiceguard.protocols.jsonspan import JsonPath
from voiceguard.protocols.jsonunit import JsonOrigin
from voiceguard.protocols.wirejson import as_dict, as_int, as_list, as_str

PROVIDER: Final = "openai"

_ROLES: Final = {role.value: role for role in TextRole}


def role_of(value: object) -> TextRole:
    if value == "developer":
        return TextRole.SYSTEM
    return _ROLES.get(value, TextRole.USER) if isinstance(value, str) else TextRole.USER


def token_usage(usage: Mapping[str, Any], model: str | None) -> Usage:
    """Usage in the ``input_tokens``/``output_tokens`` shape (Responses, Realtime, audio endpoints)."""
    input_details = as_dict(usage.get("input_token_details") or usage.get("input_tokens_details"))
    output_details = as_dict(usage.get("output_token_details") or usage.get("output_tokens_details"))
    seconds = usage.get("seconds")
    return Usage(
        model=model,
        input_tokens=as_int(usage.get("input_tokens")),
        output_tokens=as_int(usage.get("output_tokens")),
        audio_input_tokens=as_int(input_details.get("audio_tokens")),
        audio_output_tokens=as_int(output_details.get("audio_tokens")),
        cached_input_tokens=as_int(input_details.get("cached_tokens")),
        audio_seconds=float(seconds) if isinstance(seconds, int | float) else None,
    )


def item_events(item: object, path: JsonPath, message: int, *, from_client: bool) -> list[Event]:
    """The texts of one conversation item at ``path`` of a message.

    An item the client sends is prompt material (a past tool call becomes assistant prompt text, as in
    chat requests); an item the server sends is what the agent said or did, or an echo of the user's
    input (a transcript of their audio stays a ``Transcript``).
    """
    if not isinstance(item, dict):
        return []
    kind = item.get("type", "message")
    item_id = as_str(item.get("id")) or ""
    if kind == "function_call":
        arguments = item.get("arguments")
        if not isinstance(arguments, str):
            return []
        origin = JsonOrigin(message, (*path, "arguments"))
        if from_client:
            return [PromptText(arguments, TextRole.ASSISTANT, origin)]
        name, call_id = as_str(item.get("name")), as_str(item.get("call_id"))
        complete = item.get("status") != "in_progress"
        return [ToolCall(name, arguments, call_id, complete, item_id, origin)]
    if kind == "function_call_output":
        output = item.get("output")
        if isinstance(output, str):
            return [PromptText(output, TextRole.TOOL, JsonOrigin(message, (*path, "output")))]
        return []
    if kind != "message":
        return []
    role = role_of(item.get("role"))
    content = item.get("content")
    if isinstance(content, str):
        origin = JsonOrigin(message, (*path, "content"))
        return [_content_event(content, role, "text", item_id, origin, from_client)]
    events: list[Event] = []
    for index, part in enumerate(as_list(content)):
        if not isinstance(part, dict):
            continue
        for key in ("text", "transcript", "refusal"):
            text = part.get(key)
            if isinstance(text, str):
                origin = JsonOrigin(message, (*path, "content", index, key))
                events.append(_content_event(text, role, key, item_id, origin, from_client))
    return events


def part_event(part: object, path: JsonPath, message: int, item_id: str) -> list[Event]:
    """The text of one content part of an assistant reply (``content_part.added``/``.done``)."""
    if not isinstance(part, dict):
        return []
    for key in ("text", "transcript", "refusal"):
        text = part.get(key)
        if isinstance(text, str):
            origin = JsonOrigin(message, (*path, key))
            return [AgentText(text, item_id, spoken=key == "transcript", origin=origin)]
    return []


def _content_event(
    text: str, role: TextRole, key: str, item_id: str, origin: JsonOrigin, from_client: bool
) -> Event:
    if from_client:
        return PromptText(text, role, origin)
    if role is TextRole.ASSISTANT:
        return AgentText(text, item_id, spoken=key == "transcript", origin=origin)
    if role is TextRole.USER and key == "transcript":
        return Transcript(text, is_final=True, stream=item_id, origin=origin)
    return PromptText(text, role, origin)


def tool_names(tools: object) -> tuple[str, ...]:
    """Names of the declared tools (chat nests them under ``function``; the other APIs do not)."""
    names: list[str] = []
    for tool in as_list(tools):
        if not isinstance(tool, dict):
            continue
        function = tool.get("function")
        name = function.get("name") if isinstance(function, dict) else tool.get("name")
        if isinstance(name, str):
            names.append(name)
    return tuple(names)


def upstream_error(body: Mapping[str, Any]) -> UpstreamError:
    """An ``error`` event (or a body carrying an ``error`` object); its message is never kept."""
    error = as_dict(body.get("error")) or body
    return UpstreamError(as_str(error.get("code")), "", as_str(error.get("type")) or "error")
