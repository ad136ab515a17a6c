# Multi-stage build: compile on Debian with the C toolchain the codecs need,
# run as a non-root user on a slim image.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake pkg-config libspeex-dev libspeexdsp-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --bin rtmp2sip

FROM debian:bookworm-slim
# libspeex1 (the Speex codec) and libspeexdsp1 (the resampler): the C
# libraries the codecs link dynamically.
RUN apt-get update && apt-get install -y --no-install-recommends libspeex1 libspeexdsp1 \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --home /nonexistent rtmp2sip
COPY --from=build /src/target/release/rtmp2sip /usr/local/bin/rtmp2sip
COPY config/gateway.toml /etc/rtmp2sip/gateway.toml
USER rtmp2sip
EXPOSE 1935/tcp 8080/tcp 5060/udp 10000-20000/udp
# GET /healthz on the shipped config's [http] listen (8080) with the binary's own
# client (`rtmp2sip healthcheck URL`: exit 0 on 200), so the image needs no curl.
# A config without an HTTP listener: add `[metrics] listen = ["127.0.0.1:9100"]` and
# override, e.g. `--health-cmd "rtmp2sip healthcheck http://127.0.0.1:9100/healthz"`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/rtmp2sip", "healthcheck", "http://127.0.0.1:8080/healthz"]
# SIGTERM drains: new calls get 503 while running calls end, for up to
# [limits] drain_timeout_s (30 s), then BYE. docker stop waits 10 s by default:
# use `docker stop -t 40` / `--stop-timeout 40` (compose: stop_grace_period: 40s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/rtmp2sip"]
CMD ["--config", "/etc/rtmp2sip/gateway.toml"]
