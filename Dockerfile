# syntax=docker/dockerfile:1
# outboundIQ Relay image. Two stages: uv builds a virtualenv in /app (locked dependencies in
# their own layer, then the project as a wheel); a slim Python runtime gets only that venv.
#
#   docker build -t outboundiq-relay .
#   docker run -p 8080:8080 -v relay-data:/var/lib/relay \
#     -v "$PWD/sources.yaml:/etc/relay/sources.yaml:ro" \
#     -e RELAY_OUTBOUNDIQ_API_KEY=... outboundiq-relay
#
# tests/deploy/test_image.py replays the build stage's steps and this CMD in a fresh venv.

ARG PYTHON_VERSION=3.12
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

# ---------------------------------------------------------------------------------- build
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ARG PYTHON_VERSION
COPY --from=uv /uv /usr/local/bin/uv

# The venv lives at /app in both stages; the runtime's Python sits at the same path.
ENV UV_PROJECT_ENVIRONMENT=/app \
    UV_PYTHON=python${PYTHON_VERSION} \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

WORKDIR /src

# 1. Locked third-party dependencies only: this layer is rebuilt when uv.lock changes.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project

# 2. The project, built as a wheel and installed without its source tree.
COPY README.md ./
COPY relay ./relay
COPY mappings ./mappings
RUN --mount=type=cache,target=/root/.cache/uv \
    uv build --wheel --out-dir /dist \
    && uv pip install --python /app/bin/python --no-deps /dist/outboundiq_relay-*.whl

# -------------------------------------------------------------------------------- runtime
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="outboundIQ Relay" \
      org.opencontainers.image.description="Dialer call-end webhooks to outboundIQ's Dials API" \
      org.opencontainers.image.licenses="Apache-2.0"

# A system user with a fixed numeric id (Kubernetes' runAsNonRoot needs a number), and the
# queue directory it owns. Time zones come from the `tzdata` wheel in the venv.
RUN groupadd --system --gid 10001 relay \
    && useradd --system --uid 10001 --gid relay --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin relay \
    && mkdir -p /var/lib/relay /etc/relay/mappings \
    && chown relay:relay /var/lib/relay

COPY --from=build /app /app

ENV PATH=/app/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TZ=UTC \
    RELAY_HOST=0.0.0.0 \
    RELAY_PORT=8080 \
    RELAY_SOURCES_FILE=/etc/relay/sources.yaml \
    RELAY_MAPPINGS_DIR=/etc/relay/mappings \
    RELAY_QUEUE_URL=sqlite:////var/lib/relay/queue.db

USER 10001:10001
WORKDIR /var/lib/relay
VOLUME ["/var/lib/relay"]
EXPOSE 8080

# Exec form: the relay is PID 1 and gets SIGTERM itself (it drains in-flight deliveries).
STOPSIGNAL SIGTERM
ENTRYPOINT ["relay"]
CMD ["serve"]
