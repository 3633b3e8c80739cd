"""Spans the tracing sink builds directly carry what the SDK tracer would give them, and respect sampling."""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

from voiceguard.telemetry import names
from voiceguard.telemetry.trace_state import SAMPLED, CallTrace, SpanSpec
from voiceguard.testing import in_memory_tracing


def test_a_directly_built_span_has_its_ids_parent_resource_scope_and_status() -> None:
    sink, exporter = in_memory_tracing()
    parent = CallTrace(Context(), {}, 0, trace_id=0xABC, flags=SAMPLED).context_of(0x11)
    spec = SpanSpec("chat m", parent, SpanKind.CLIENT, {"k": ["a", "b"]}, 10, 20, 0x22, error="502")
    sink._write_span(spec)
    sink.tracing.force_flush()
    [span] = exporter.get_finished_spans()
    assert (span.context.trace_id, span.context.span_id, span.context.trace_flags.sampled) == (
        0xABC,
        0x22,
        True,
    )
    assert span.parent is not None and (span.parent.trace_id, span.parent.span_id) == (0xABC, 0x11)
    assert (span.start_time, span.end_time, span.kind) == (10, 20, SpanKind.CLIENT)
    assert span.attributes["k"] == ("a", "b")
    assert span.status.status_code is StatusCode.ERROR and span.status.description == "502"
    assert span.instrumentation_scope is not None and span.instrumentation_scope.name == names.TRACER_NAME
    assert span.resource.attributes["service.name"] == "voiceguard-test"


def test_a_sampler_that_says_no_means_no_span_is_built() -> None:
    sink, exporter = in_memory_tracing()
    sink._sampler = ALWAYS_OFF
    sink._write_span(SpanSpec("voice.call", Context(), SpanKind.SERVER, {}, 1, 2, 0x33, trace_id=0x44))
    sink.tracing.force_flush()
    assert exporter.get_finished_spans() == ()
