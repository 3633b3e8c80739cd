# The OpenTelemetry Collector (contrib) on a small base with wget, so compose can health-check it: the
# upstream image is built FROM scratch and has no shell or HTTP client to run a check with.
FROM otel/opentelemetry-collector-contrib:0.123.0 AS collector

FROM alpine:3.21
COPY --from=collector /otelcol-contrib /otelcol-contrib
EXPOSE 4317 4318 13133
ENTRYPOINT ["/otelcol-contrib"]
CMD ["--config=/etc/otelcol/config.yaml"]
