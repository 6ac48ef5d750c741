#!/usr/bin/env bash
# Validates deploy/ offline (after a one-time pip install of pinned packages into .build/deploy-venv):
#   1. renders every kustomization under deploy/ (but the base) with a real kustomize: `kustomize build`,
#      else `kubectl kustomize` (kustomize v4 or newer), else kustomize's Go API from PyPI (pykustomize);
#      LYCHEE_KUSTOMIZE=kustomize|kubectl|pykustomize forces one;
#   2. tools/validate_deploy.py: every object against the Kubernetes schemas (kubernetes-validate, strict)
#      plus the checks a schema cannot make (serve flags, probes, drain timing, selectors, HPA metrics);
#   3. lints deploy/Containerfile with hadolint (deploy/.hadolint.yaml: any warning fails);
#   4. proves each of those fails on a broken copy (a manifest, a kustomization, the Containerfile).
# Part of `make test`. Writes only under .build/.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.build/deploy-venv
PY=$VENV/bin/python
if [ ! -x "$PY" ] || ! cmp -s deploy/requirements-validate.txt "$VENV/.installed"; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -r deploy/requirements-validate.txt
  "$VENV/bin/pip" check -q --disable-pip-version-check >/dev/null
  cp deploy/requirements-validate.txt "$VENV/.installed"
fi

renderer=${LYCHEE_KUSTOMIZE:-}
if [ -z "$renderer" ]; then
  if command -v kustomize >/dev/null 2>&1; then
    renderer=kustomize
  elif command -v kubectl >/dev/null 2>&1 \
      && kubectl version --client 2>/dev/null | grep -Eq 'Kustomize Version: v([4-9]|[1-9][0-9])\.'; then
    renderer=kubectl
  else
    renderer=pykustomize
  fi
fi
case "$renderer" in
  kustomize) echo "renderer: $(kustomize version 2>&1 | head -1)";;
  kubectl) echo "renderer: kubectl kustomize ($(kubectl version --client 2>/dev/null | grep -i kustomize))";;
  pykustomize)
    if ! cmp -s deploy/requirements-render.txt "$VENV/.installed-render"; then
      "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --ignore-requires-python \
        -r deploy/requirements-render.txt
      cp deploy/requirements-render.txt "$VENV/.installed-render"
    fi
    echo "renderer: pykustomize ($("$PY" -c 'import pykustomize; print(pykustomize.native_version())'), kustomize api v0.21.3)";;
  *) echo "LYCHEE_KUSTOMIZE must be kustomize, kubectl or pykustomize, got $renderer" >&2; exit 2;;
esac

render() {  # render KUSTOMIZATION_DIR > file
  case "$renderer" in
    kustomize) kustomize build "$1";;
    kubectl) kubectl kustomize "$1";;
    pykustomize) "$PY" tools/validate_deploy.py render "$1";;
  esac
}

OUT=.build/deploy-rendered
rm -rf "$OUT" && mkdir -p "$OUT"
mapfile -t kustomizations < <(find deploy -name kustomization.yaml -not -path 'deploy/base/*' -printf '%h\n' | sort)
for dir in "${kustomizations[@]}"; do
  name=${dir#deploy/}
  render "$dir" >"$OUT/${name//\//-}.yaml"
  echo "rendered $dir -> $OUT/${name//\//-}.yaml ($(grep -c '^kind:' "$OUT/${name//\//-}.yaml") objects)"
done
"$PY" tools/validate_deploy.py check "$OUT"

HADOLINT=$VENV/bin/hadolint
"$HADOLINT" --no-color --config deploy/.hadolint.yaml deploy/Containerfile
echo "hadolint $("$HADOLINT" --version | awk '{print $NF}'): deploy/Containerfile clean"

# --- each check must reject a broken copy ---------------------------------------------------------------
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
expect_rejected() {  # expect_rejected WHAT EXPECTED_TEXT COMMAND...
  local what=$1 expected=$2; shift 2
  if "$@" >"$SCRATCH/log" 2>&1; then
    cat "$SCRATCH/log" >&2; echo "self-test FAILED: $what was accepted" >&2; exit 1
  fi
  if ! grep -qF -- "$expected" "$SCRATCH/log"; then
    cat "$SCRATCH/log" >&2; echo "self-test FAILED: $what was rejected, but not for: $expected" >&2; exit 1
  fi
  echo "self-test: $what: rejected ($(grep -m1 -F -- "$expected" "$SCRATCH/log" | cut -c1-150))"
}
broken_manifest() {  # broken_manifest WHAT EXPECTED SED_EXPRESSION: one mutation of the gpu-per-pod render
  rm -rf "$SCRATCH/rendered" && cp -r "$OUT" "$SCRATCH/rendered"
  sed -i -e "$3" "$SCRATCH/rendered/overlays-gpu-per-pod.yaml"
  if cmp -s "$OUT/overlays-gpu-per-pod.yaml" "$SCRATCH/rendered/overlays-gpu-per-pod.yaml"; then
    echo "self-test FAILED: the mutation for '$1' changed nothing" >&2; exit 1
  fi
  expect_rejected "$1" "$2" "$PY" tools/validate_deploy.py check "$SCRATCH/rendered"
}
broken_manifest "containerPort as a string" "spec/template/spec/containers/0/ports/0/containerPort" \
  's/containerPort: 7860/containerPort: "7860"/'
broken_manifest "an unknown field (strict schema)" "Additional properties are not allowed" \
  's/^\(      \)enableServiceLinks: false/&\n\1enableServiceLink: false/'
broken_manifest "a grace period shorter than preStop + drain" "the kubelet would kill the drain" \
  's/terminationGracePeriodSeconds: 120/terminationGracePeriodSeconds: 30/'
broken_manifest "a serve flag that does not exist" "serve has no option --max-concurent" \
  's/--max-concurrent=/--max-concurent=/'
broken_manifest "readiness on /health" "readinessProbe must be an httpGet of /ready" \
  '/readinessProbe:/,/periodSeconds/s#path: /ready#path: /health#'
broken_manifest "an HPA metric no adapter rule publishes" "is published by no adapter rule" \
  's/name: lychee_queue_pairs/name: lychee_queue_depth/'
broken_manifest "a Service that selects no pod" "selector does not select the Deployment's pods" \
  '/^kind: Service/,/^---/s/app.kubernetes.io\/name: lychee-rerank/app.kubernetes.io\/name: lychee/'

cp -r deploy "$SCRATCH/deploy"
rm "$SCRATCH/deploy/overlays/gpu-node/whole-node.yaml"
expect_rejected "a kustomization whose patch file is missing" "whole-node.yaml" render "$SCRATCH/deploy/overlays/gpu-node"

{ cat deploy/Containerfile; echo 'RUN cd /tmp && ls'; } >"$SCRATCH/Containerfile"
expect_rejected "a Containerfile with RUN cd" "DL3003" "$HADOLINT" --no-color --config deploy/.hadolint.yaml "$SCRATCH/Containerfile"

echo "validate-deploy: ${#kustomizations[@]} kustomizations rendered and valid, Containerfile lint clean, 9 broken copies rejected"
