# syntax=docker/dockerfile:1
# One image for both `airoute controller` and `airoute gateway` (charts/airoute runs it twice).
#
#   docker build -t airoute:dev --build-arg REVISION="$(git rev-parse HEAD)" .
#   docker run --rm airoute:dev --help
#
# Two stages. The build stage installs the locked runtime dependencies into a virtual environment
# (requirements.lock: every file pinned by hash, wheels only, no compiler), then builds and adds
# airoute itself; the runtime stage copies that environment onto the same base image, removes
# pip, and runs as an unprivileged user (uid/gid 10001, what the chart's securityContext
# expects) with nothing writable but /tmp (an emptyDir in the chart: readOnlyRootFilesystem).
# The demo's extra (matplotlib) is not installed. `make lock` regenerates the lock files;
# hack/pin-base-image.sh refreshes the base image's digest.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv --without-pip /opt/airoute
WORKDIR /src
# 1. Dependencies: this layer is rebuilt only when a lock file changes, never for a source change.
COPY requirements.lock requirements-build.lock ./
RUN python -m pip --python /opt/airoute/bin/python install --no-deps --require-hashes --only-binary=:all: \
        -r requirements.lock \
 && python -m pip install --no-deps --require-hashes -r requirements-build.lock
# 2. airoute itself, built with the locked setuptools (nothing downloaded here).
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN python -m pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/wheels . \
 && python -m pip --python /opt/airoute/bin/python install --no-deps --no-index /tmp/wheels/airoute-*.whl \
 && /opt/airoute/bin/python -m compileall -q /opt/airoute/lib \
 && /opt/airoute/bin/airoute --help >/dev/null

FROM ${PYTHON_IMAGE}
ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG REVISION=""
ARG CREATED=""
LABEL org.opencontainers.image.title="airoute" \
      org.opencontainers.image.description="Kubernetes operator and OpenAI-compatible gateway that keeps AI features running when an AI provider fails" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="airoute" \
      org.opencontainers.image.url="https://github.com/airoute/airoute" \
      org.opencontainers.image.source="https://github.com/airoute/airoute" \
      org.opencontainers.image.documentation="https://github.com/airoute/airoute/tree/main/docs" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
# No package installer at run time: pip (and what the base ships to reinstall it) goes.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
 && rm -rf /usr/local/lib/python3.11/ensurepip \
 && groupadd --system --gid 10001 airoute \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin airoute
COPY --from=build /opt/airoute /opt/airoute
ENV PATH=/opt/airoute/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
WORKDIR /tmp
USER 10001:10001
# gateway: API, /healthz, /readyz, /metrics; controller: 8080 liveness, 8081 metrics
EXPOSE 8080 8081
ENTRYPOINT ["airoute"]
CMD ["--help"]
