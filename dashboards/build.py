"""Generates voiceguard's Grafana dashboards (checked in beside this file as JSON).

    .venv/bin/python -m dashboards.build          # rewrite the JSON files
    .venv/bin/python -m dashboards.build --check  # fail if a checked-in file is out of date

Data sources are referenced by fixed uids, which ``examples/observability/grafana`` provisions:
``voiceguard-prometheus`` (scrapes ``/_voiceguard/metrics``), ``voiceguard-tempo`` and ``voiceguard-jaeger``
(both fed by the OpenTelemetry Collector). Metric names are the Prometheus names voiceguard exposes; a test
checks every one of them against a live ``/metrics`` after a traffic run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, table, tempo, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import prometheus as prometheus_model
from grafana_foundation_sdk.models import tempo as tempo_model
from grafana_foundation_sdk.models.dashboard import DashboardLinkType, DataSourceRef

HERE = Path(__file__).resolve().parent
PROMETHEUS = DataSourceRef(type_val="prometheus", uid="voiceguard-prometheus")
TEMPO = DataSourceRef(type_val="tempo", uid="voiceguard-tempo")
JAEGER_UI = "http://localhost:16686"
RATE = "$__rate_interval"
QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
MODE = 'voiceguard_turn_mode=~"$mode"'


def quantile(q: float, metric: str, labels: str = "", by: str = "") -> str:
    selector = f"{{{labels}}}" if labels else ""
    group = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket{selector}[{RATE}])))"


def prom(expr: str, legend: str, ref: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(PROMETHEUS)


def _timeseries(title: str, description: str, unit: str) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .min(0)
        .datasource(PROMETHEUS)
        .height(8)
        .span(12)
    )


def percentile_panel(
    title: str, metric: str, description: str, labels: str = "", by: str = "", unit: str = "s"
) -> timeseries.Panel:
    """p50, p95 and p99 of one histogram over time (split by ``by`` when given)."""
    panel = _timeseries(title, description, unit)
    for index, (name, q) in enumerate(QUANTILES):
        legend = f"{name} {{{{{by}}}}}" if by else name
        panel = panel.with_target(prom(quantile(q, metric, labels, by), legend, chr(ord("A") + index)))
    return panel


def rate_panel(
    title: str, expr: str, legend: str, description: str, unit: str, stacked: bool = False
) -> timeseries.Panel:
    panel = _timeseries(title, description, unit).with_target(prom(expr, legend))
    if stacked:
        panel = panel.stacking(common_builder.StackingConfig().mode(common.StackingMode.NORMAL)).fill_opacity(
            30
        )
    return panel


def stat_panel(title: str, expr: str, unit: str, description: str) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(PROMETHEUS)
        .height(4)
        .span(4)
        .reduce_options(common_builder.ReduceDataOptions().calcs(["lastNotNull"]))
        .with_target(prom(expr, title))
    )


def mode_variable() -> dash.CustomVariable:
    return (
        dash.CustomVariable("mode")
        .label("Turn mode")
        .values("cascade,realtime")
        .include_all(True)
        .all_value(".*")
        .multi(True)
    )


def voice_latency() -> dash.Dashboard:
    v2v = "voiceguard_turn_voice_to_voice_latency_seconds"
    builder = (
        dash.Dashboard("voiceguard · Voice latency")
        .uid("voiceguard-voice-latency")
        .tags(["voiceguard", "voice"])
        .refresh("30s")
        .time("now-1h", "now")
        .description("What callers feel: voice-to-voice latency per turn and where it goes, stage by stage.")
        .with_variable(mode_variable())
        .with_row(dash.Row("Voice-to-voice (user end of speech → first agent audio out of voiceguard)"))
    )
    for name, q in QUANTILES:
        builder = builder.with_panel(
            stat_panel(
                f"Voice-to-voice {name}",
                f"histogram_quantile({q}, sum by (le) (rate({v2v}_bucket{{{MODE}}}[$__range])))",
                "s",
                f"{name} over the selected range, every turn of the selected modes.",
            )
        )
    builder = (
        builder.with_panel(
            percentile_panel(
                "Voice-to-voice latency", v2v, "Per turn, by turn mode.", MODE, "voiceguard_turn_mode"
            )
        )
        .with_panel(
            rate_panel(
                "Turns and interruptions",
                f"sum by (voiceguard_turn_mode) (rate(voiceguard_turns_total{{{MODE}}}[{RATE}]))",
                "turns/s {{voiceguard_turn_mode}}",
                "Turns per second; interruptions (barge-ins) are in the next panel.",
                "reqps",
            ).with_target(
                prom(
                    "sum by (voiceguard_turn_mode) "
                    f"(rate(voiceguard_turn_interruptions_total{{{MODE}}}[{RATE}]))",
                    "barge-ins/s {{voiceguard_turn_mode}}",
                    "B",
                )
            )
        )
        .with_row(dash.Row("Breakdown by stage (p50 / p95 / p99)"))
        .with_panel(
            percentile_panel(
                "End-of-speech detection",
                "voiceguard_turn_end_of_turn_delay_seconds",
                "Last user audio frame in → the backend's end-of-speech event (where it reports one).",
                MODE,
            )
        )
        .with_panel(
            percentile_panel(
                "STT finalization",
                "voiceguard_stt_time_to_final_transcript_seconds",
                "End of speech → final transcript, by STT provider.",
                by="gen_ai_provider_name",
            )
        )
        .with_panel(
            percentile_panel(
                "LLM time to first token",
                "voiceguard_llm_time_to_first_token_seconds",
                "LLM request sent → first token, by model.",
                by="gen_ai_request_model",
            )
        )
        .with_panel(
            percentile_panel(
                "TTS time to first audio",
                "voiceguard_tts_time_to_first_audio_seconds",
                "TTS request sent → first audio byte, by model.",
                by="gen_ai_request_model",
            )
        )
        .with_panel(
            percentile_panel(
                "Realtime time to first audio",
                "voiceguard_realtime_time_to_first_audio_seconds",
                "Speech-to-speech backends: end of speech → first response audio, by model.",
                by="gen_ai_request_model",
            )
        )
        .with_panel(
            percentile_panel(
                "Agent orchestration gaps",
                "voiceguard_turn_gap_seconds",
                "The agent's own delay between stages (final transcript → LLM request, first token → TTS "
                "request): invisible to single-stage tools.",
                MODE,
                "voiceguard_turn_gap_kind",
            )
        )
        .with_panel(
            percentile_panel(
                "Proxy overhead per turn",
                "voiceguard_turn_proxy_overhead_seconds",
                "Time spent inside voiceguard per turn (parsing, guards, rendering), not waiting on peers.",
                MODE,
            )
        )
        .with_panel(
            percentile_panel(
                "Barge-in stop latency",
                "voiceguard_turn_barge_in_stop_latency_seconds",
                "User starts speaking over the agent → last agent audio frame forwarded.",
                MODE,
            )
        )
        .with_row(dash.Row("Usage, cost and errors"))
        .with_panel(
            rate_panel(
                "Tokens per second",
                "sum by (gen_ai_request_model, gen_ai_token_type) "
                f"(rate(gen_ai_client_token_usage_sum[{RATE}]))",
                "{{gen_ai_request_model}} {{gen_ai_token_type}}",
                "gen_ai.client.token.usage, by model and token type.",
                "short",
                stacked=True,
            )
        )
        .with_panel(
            rate_panel(
                "Estimated cost per hour",
                f"sum by (gen_ai_request_model) (rate(voiceguard_cost_usd_total[{RATE}])) * 3600",
                "{{gen_ai_request_model}}",
                "From the configured price table (telemetry.prices); an estimate, not an invoice.",
                "currencyUSD",
                stacked=True,
            )
        )
        .with_panel(
            percentile_panel(
                "Model call duration",
                "gen_ai_client_operation_duration_seconds",
                "gen_ai.client.operation.duration, by operation.",
                by="gen_ai_operation_name",
            )
        )
        .with_panel(
            rate_panel(
                "Upstream errors",
                f"sum by (voiceguard_route, error_type) (rate(voiceguard_upstream_errors_total[{RATE}]))",
                "{{voiceguard_route}} {{error_type}}",
                "Refused, timed out, reset and 5xx upstreams.",
                "reqps",
            ).with_target(prom("sum(voiceguard_calls_active)", "active calls", "B"))
        )
    )
    return builder


def call_drilldown() -> dash.Dashboard:
    call = '{ span.gen_ai.conversation.id = "$call_id" }'
    turns = (
        '{ name = "voice.turn" && span.gen_ai.conversation.id = "$call_id" } | select('
        "span.voiceguard.turn.number, span.voiceguard.turn.voice_to_voice_latency, "
        "span.voiceguard.stt.time_to_final_transcript, span.voiceguard.llm.time_to_first_token, "
        "span.voiceguard.tts.time_to_first_audio, span.voiceguard.turn.interrupted, span.voiceguard.cost.usd)"
    )
    jaeger = (
        f"{JAEGER_UI}/search?service=voiceguard&limit=20&tags="
        "%7B%22gen_ai.conversation.id%22%3A%22${call_id}%22%7D"
    )
    return (
        dash.Dashboard("voiceguard · Call drill-down")
        .uid("voiceguard-call-drilldown")
        .tags(["voiceguard", "voice", "traces"])
        .time("now-6h", "now")
        .description("One call: its trace, its turns and their latency breakdown. Enter the call id.")
        .with_variable(
            dash.TextBoxVariable("call_id").label("Call id (X-VoiceGuard-Call-Id)").default_value("")
        )
        .link(
            dash.DashboardLink("Open the call in Jaeger")
            .type(DashboardLinkType.LINK)
            .url(jaeger)
            .target_blank(True)
            .icon("external link")
        )
        .with_panel(
            table.Panel()
            .title("Traces of the call")
            .description("Every trace holding a span of this call; open a row to see the span tree in Tempo.")
            .datasource(TEMPO)
            .height(8)
            .span(24)
            .with_target(
                tempo.TempoQuery().ref_id("A").datasource(TEMPO).query_type("traceql").query(call).limit(20)
            )
        )
        .with_panel(
            table.Panel()
            .title("Turns: latency breakdown (seconds)")
            .description("One row per turn span, with its voice-to-voice latency and stage times.")
            .datasource(TEMPO)
            .height(10)
            .span(24)
            .with_target(
                tempo.TempoQuery()
                .ref_id("A")
                .datasource(TEMPO)
                .query_type("traceql")
                .query(turns)
                .limit(200)
                .table_type(tempo_model.SearchTableType.SPANS)
            )
        )
        .with_panel(
            table.Panel()
            .title("Policy decisions in the call")
            .description(
                "Spans carrying a voiceguard.policy.decision event (PII redactions, disclosures, ...)."
            )
            .datasource(TEMPO)
            .height(8)
            .span(24)
            .with_target(
                tempo.TempoQuery()
                .ref_id("A")
                .datasource(TEMPO)
                .query_type("traceql")
                .query(
                    '{ span.gen_ai.conversation.id = "$call_id" '
                    '&& event:name = "voiceguard.policy.decision" }'
                )
                .limit(100)
            )
        )
    )


def compliance() -> dash.Dashboard:
    return (
        dash.Dashboard("voiceguard · Compliance")
        .uid("voiceguard-compliance")
        .tags(["voiceguard", "compliance"])
        .refresh("1m")
        .time("now-24h", "now")
        .description(
            "What the guards did: PII redacted by type, policy decisions by rule and outcome, blocks."
        )
        .with_panel(
            stat_panel(
                "PII entities redacted",
                "sum(increase(voiceguard_pii_entities_total[$__range]))",
                "short",
                "Entities the PII guard replaced, over the selected range.",
            )
        )
        .with_panel(
            stat_panel(
                "Requests blocked by policy",
                'sum(increase(voiceguard_requests_total{voiceguard_outcome="blocked"}[$__range]))',
                "short",
                "Exchanges a guard refused (HTTP 403/451 or a WebSocket close).",
            )
        )
        .with_panel(
            stat_panel(
                "Spans lost by telemetry",
                "sum(increase(voiceguard_telemetry_dropped_total[$__range]))",
                "short",
                "Spans dropped behind a slow or dead collector: non-zero means traces are incomplete.",
            )
        )
        .with_panel(
            rate_panel(
                "PII entities redacted by type",
                f"sum by (voiceguard_pii_entity_type) (rate(voiceguard_pii_entities_total[{RATE}]))",
                "{{voiceguard_pii_entity_type}}",
                "From the PII guard's decisions (evidence control=pii), under whichever pack rule.",
                "short",
                stacked=True,
            )
        )
        .with_panel(
            rate_panel(
                "Policy decisions by rule and outcome",
                "sum by (voiceguard_policy_rule_id, voiceguard_policy_outcome) "
                f"(rate(voiceguard_policy_decisions_total[{RATE}]))",
                "{{voiceguard_policy_rule_id}} {{voiceguard_policy_outcome}}",
                "Every PolicyDecision the guard chain reported.",
                "short",
                stacked=True,
            )
        )
        .with_panel(
            table.Panel()
            .title("Decisions over the range")
            .description("Totals by rule, action and outcome.")
            .datasource(PROMETHEUS)
            .height(8)
            .span(24)
            .with_target(
                prometheus.Dataquery()
                .ref_id("A")
                .datasource(PROMETHEUS)
                .expr(
                    "sum by (voiceguard_policy_rule_id, voiceguard_policy_action, voiceguard_policy_outcome) "
                    "(increase(voiceguard_policy_decisions_total[$__range]))"
                )
                .instant()
                .format(prometheus_model.PromQueryFormat.TABLE)
            )
        )
    )


DASHBOARDS = {
    "voice-latency.json": voice_latency,
    "call-drilldown.json": call_drilldown,
    "compliance.json": compliance,
}


def render(builder: dash.Dashboard) -> str:
    return json.dumps(builder.build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def rendered() -> dict[str, str]:
    return {name: render(factory()) for name, factory in DASHBOARDS.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="fail if the checked-in JSON is out of date")
    args = parser.parse_args(argv)
    stale = []
    for name, text in rendered().items():
        path = HERE / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python -m dashboards.build", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
