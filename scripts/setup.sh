#!/usr/bin/env bash
# Install what gaitline needs, idempotently: Debian packages (when root), the virtual
# environment at .venv, and the Apache Kafka broker jars (Maven Central, cached outside the repo).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(opencv-doc postgresql prometheus maven default-jre-headless chromium openssl)
PY=${PYTHON:-python3}

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages (${missing[*]}); install them as root" >&2
  fi
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.gaitline-installed
want=$(sha256sum pyproject.toml | cut -c1-16)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "setup: installing gaitline and its dependencies into .venv (torch is large on first install)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  # opencv-contrib-python replaced opencv-python: two packages writing one cv2 break each other
  if .venv/bin/python -m pip show -q opencv-python >/dev/null 2>&1; then
    .venv/bin/python -m pip uninstall -y -q opencv-python
    .venv/bin/python -m pip install -q --force-reinstall --no-deps "opencv-contrib-python>=4.8,<5"
  fi
  echo "$want" > "$stamp"
fi

# The chart tests' tools (not the product's dependencies): the Kubernetes JSON schemas that
# kubernetes-validate ships (offline validation of every rendered object) and grafana-foundation-sdk
# (the dashboard is code: gaitline/deploy/dashboard.py). Pinned; installed once.
OPS_TOOLS=("kubernetes-validate==1.37.0" "grafana-foundation-sdk==1769699998!10.1.0")
if ! .venv/bin/python -c "import kubernetes_validate, grafana_foundation_sdk" >/dev/null 2>&1; then
  echo "setup: installing the chart tests' tools: ${OPS_TOOLS[*]}"
  .venv/bin/python -m pip install -q "${OPS_TOOLS[@]}"
fi

.venv/bin/gaitline kafka fetch

# Helm has no Debian package here: build it from the Go module proxy once (for helm lint/template).
HELM_VERSION=v3.22.0
HELM_BIN=${XDG_CACHE_HOME:-$HOME/.cache}/gaitline/bin/helm
if [[ ! -x $HELM_BIN ]] && ! command -v helm >/dev/null; then
  if command -v go >/dev/null; then
    echo "setup: building helm $HELM_VERSION from the Go module proxy (once)"
    GOBIN=$(dirname "$HELM_BIN") go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  else
    echo "setup: Go is missing, cannot build helm (the chart tests need it)" >&2
  fi
fi
