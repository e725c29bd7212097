# syncer in a container: `make image`, then
#   docker run --rm -v syncer-state:/state -v "$PWD/pg.yaml:/work/pg.yaml:ro" -e PG_PASSWORD \
#     metadata-syncer run pg.yaml
# The state file is /state/state.duckdb (SYNCER_STATE); keep /state on a volume, or every run
# starts a new state and re-sends everything. Secrets come from the environment (`-e`), never
# from the image. See "The container image" in docs/getting-started.md.

# Any Debian-based CPython 3.11+ image; pin it by digest where builds must repeat.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the package and its extras into a virtual environment --------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/syncer
WORKDIR /src
COPY pyproject.toml README.md LICENSE CHANGELOG.md MANIFEST.in ./
COPY syncer ./syncer
COPY state ./state
COPY connectors ./connectors
# The database drivers and the topic clients; each is one `pip install` for those who need it.
ARG EXTRAS=postgres,mysql,mqtt,nats
RUN /opt/syncer/bin/pip install ".[${EXTRAS}]" \
    && /opt/syncer/bin/pip uninstall --yes pip setuptools

# --- run: the environment, a user without privileges and the examples ----------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="metadata-syncer" \
      org.opencontainers.image.description="Keeps a metadata catalog in step with the systems it describes, cheaply and often." \
      org.opencontainers.image.licenses="Apache-2.0"
RUN useradd --uid 10001 --user-group --no-log-init --create-home --shell /usr/sbin/nologin syncer \
    && mkdir /state /work \
    && chown syncer:syncer /state /work
COPY --from=build /opt/syncer /opt/syncer
# Read-only for the user: `syncer run examples/demo.yaml` writes its JSONL file to /work/out.
COPY examples /work/examples
ENV PATH=/opt/syncer/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SYNCER_STATE=/state/state.duckdb
USER 10001:10001
WORKDIR /work
VOLUME /state
ENTRYPOINT ["syncer"]
CMD ["--help"]
