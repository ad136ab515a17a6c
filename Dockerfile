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
ENTRYPOINT ["/usr/local/bin/rtmp2sip"]
CMD ["--config", "/etc/rtmp2sip/gateway.toml"]
