# syntax=docker/dockerfile:1.7
# The help desk's Rasa action server (rasa-sdk, Python 3.10), built from the workspace root:
#   docker build -f infra/images/rasa_actions.Dockerfile -t otasuke/rasa-actions .
# Custom actions live in services/helpdesk_bot/rasa/actions/ (module `actions`);
# change RASA_ACTIONS_MODULE / the CMD if that moves.
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

FROM ${PYTHON_IMAGE} AS runtime
ARG RASA_ACTIONS_MODULE=actions
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin rasa
COPY --from=build --chown=10001:10001 /opt/rasa /opt/rasa
COPY --from=build --chown=10001:10001 /app /app
WORKDIR /app
ENV PATH=/opt/rasa/bin:$PATH PYTHONUNBUFFERED=1 RASA_ACTIONS_MODULE=${RASA_ACTIONS_MODULE}
USER 10001
EXPOSE 5055
ENTRYPOINT ["sh", "-c", "exec rasa run actions --port 5055 --actions \"$RASA_ACTIONS_MODULE\""]
