# AETHERIS image: `aetheris …` commands (API, pipeline, workers, migrations) on Python 3.11.
# Stage 1 builds the virtualenv with the compilers some wheels may need; stage 2 copies only
# that virtualenv into a clean slim image and runs as an unprivileged user.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/aetheris
ENV PATH=/opt/aetheris/bin:$PATH
WORKDIR /src
# The lock first, so that a code change does not reinstall every dependency.
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY risk_engine ./risk_engine
COPY infra ./infra
COPY connectors ./connectors
COPY pipelines ./pipelines
COPY api ./api
COPY aetheris ./aetheris
RUN pip install --no-deps . && aetheris --help > /dev/null

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/aetheris/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AETHERIS_DATA_DIR=/var/lib/aetheris
RUN groupadd --system --gid 10001 aetheris \
 && useradd --system --uid 10001 --gid aetheris --home-dir /var/lib/aetheris --shell /usr/sbin/nologin aetheris \
 && mkdir -p /var/lib/aetheris/recovery \
 && chown -R aetheris:aetheris /var/lib/aetheris
COPY --from=build /opt/aetheris /opt/aetheris
USER aetheris:aetheris
WORKDIR /var/lib/aetheris
# The API (8000), the Bytewax cluster port (2101) and the Prometheus metrics port (9464).
EXPOSE 8000 2101 9464
CMD ["aetheris", "--help"]
