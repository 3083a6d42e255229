# syntax=docker/dockerfile:1
# One image for both `airoute controller` and `airoute gateway` (charts/airoute runs it twice).
#
#   docker build -t airoute:dev .
#   docker run --rm airoute:dev --help
#
# Two stages: the build stage installs airoute and its dependencies into a virtual environment
# (every dependency ships wheels: no compiler needed); the runtime stage copies that environment onto the same base image
# and runs as an unprivileged user (uid/gid 10001, what the chart's securityContext expects) with
# nothing writable but /tmp (an emptyDir in the chart: readOnlyRootFilesystem).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/airoute
WORKDIR /src
# Dependencies first (a layer that survives source changes), then the package itself.
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN /opt/airoute/bin/pip install --upgrade pip \
 && /opt/airoute/bin/pip install . \
 && /opt/airoute/bin/python -m compileall -q /opt/airoute/lib \
 && /opt/airoute/bin/airoute --help >/dev/null

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="airoute" \
      org.opencontainers.image.description="Kubernetes operator and OpenAI-compatible gateway that keeps AI features running when an AI provider fails" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/airoute/airoute"
RUN groupadd --system --gid 10001 airoute \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin airoute
COPY --from=build /opt/airoute /opt/airoute
ENV PATH=/opt/airoute/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /tmp
USER 10001:10001
# gateway: API, /healthz, /readyz, /metrics; controller: 8080 liveness, 8081 metrics
EXPOSE 8080 8081
ENTRYPOINT ["airoute"]
CMD ["--help"]
