#!/usr/bin/env bash
# Prints (or, with --write, sets in the Dockerfile) the current digest of the base image tag.
# Needs a registry client: `crane` (go-containerregistry), `docker buildx` or `skopeo`. The
# Dockerfile pins python:<tag>@sha256:<digest> so that a rebuild gets the same base until this
# script is run on purpose (Renovate's or Dependabot's docker managers do the same in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
# Usage: hack/pin-base-image.sh [--write] [TAG]
WRITE=""; if [ "${1:-}" = "--write" ]; then WRITE=1; shift; fi
TAG="${1:-python:3.11-slim-bookworm}"
if command -v crane >/dev/null; then
  digest="$(crane digest "$TAG")"
elif command -v docker >/dev/null && docker buildx version >/dev/null 2>&1; then
  digest="$(docker buildx imagetools inspect "$TAG" --format '{{json .Manifest.Digest}}' | tr -d '"')"
elif command -v skopeo >/dev/null; then
  digest="$(skopeo inspect --format '{{.Digest}}' "docker://docker.io/library/$TAG")"
else
  echo "pin-base-image: needs crane, docker buildx or skopeo to ask the registry" >&2; exit 1
fi
echo "$TAG@$digest"
if [ -n "$WRITE" ]; then
  sed -i -E "s|^ARG PYTHON_IMAGE=.*$|ARG PYTHON_IMAGE=$TAG@$digest|" Dockerfile
fi
