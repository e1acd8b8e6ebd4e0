# syntax=docker/dockerfile:1.7
# The help desk's Rasa 3.6 server (its own Python 3.10 environment), built from the workspace root:
#   docker build -f infra/images/rasa.Dockerfile -t otasuke/rasa .
# The Rasa project lives in services/helpdesk_bot/rasa/; the model is trained at
# build time so a pod starts answering without a training step. Adjust
# RASA_PROJECT / the CMD here if the project layout changes.
ARG PYTHON_IMAGE=python:3.10.18-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.8.15
ARG RASA_PROJECT=services/helpdesk_bot/rasa

FROM ${UV_IMAGE} AS uv

FROM ${PYTHON_IMAGE} AS build
ARG RASA_PROJECT
COPY --from=uv /uv /usr/local/bin/
ENV UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy
RUN uv venv /opt/rasa --python /usr/local/bin/python3.10
COPY ${RASA_PROJECT}/requirements.txt /tmp/requirements.txt
RUN --mount=type=cache,target=/root/.cache/uv \
    uv pip install --python /opt/rasa/bin/python -r /tmp/requirements.txt
COPY ${RASA_PROJECT}/ /app/
WORKDIR /app
# Train only if the project has training data (config.yml); otherwise the image
# expects a model mounted at /app/models.
RUN if [ -f config.yml ]; then /opt/rasa/bin/rasa train --out models; else mkdir -p models; fi

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin rasa
COPY --from=build --chown=10001:10001 /opt/rasa /opt/rasa
COPY --from=build --chown=10001:10001 /app /app
WORKDIR /app
ENV PATH=/opt/rasa/bin:$PATH PYTHONUNBUFFERED=1
USER 10001
EXPOSE 5005
ENTRYPOINT ["rasa"]
CMD ["run", "--enable-api", "--port", "5005", "--model", "models", "--endpoints", "endpoints.yml"]
