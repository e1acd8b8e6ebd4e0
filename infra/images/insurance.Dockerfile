# syntax=docker/dockerfile:1.7
# The insurance service image, built from the workspace root:
#   docker build -f infra/images/insurance.Dockerfile -t otasuke/insurance .
# Stage 1 resolves exactly what uv.lock pins for this one package; stage 2 is
# the slim runtime, non-root. Workspace sources stay in /app (editable
# install) so Tilt's live_update can sync libs/ and services/ into a pod.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.8.15

FROM ${UV_IMAGE} AS uv

FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /uvx /usr/local/bin/
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package otasuke-insurance

FROM ${PYTHON_IMAGE} AS runtime
# WeasyPrint (PDF reports) needs Pango at run time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-ipaexfont-gothic \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin otasuke
WORKDIR /app
COPY --from=build --chown=10001:10001 /app /app
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 \
    OTASUKE_HOST=0.0.0.0 OTASUKE_DATA_DIR=/tmp/otasuke
USER 10001
EXPOSE 8004
ENTRYPOINT ["python", "-m", "otasuke.insurance"]
