#!/usr/bin/env bash
# Fails if `make manifests generate` changes anything under api/, config/ or
# charts/ (the chart's copies of the CRD, rules and dashboard):
# generated code and manifests must be committed and current. Compares the
# tree before and after, so uncommitted edits of your own are not counted.
set -euo pipefail
make=${1:-make}
snapshot() {
  { git status --porcelain --untracked-files=all -- api config charts; git diff --no-ext-diff -- api config charts; \
    git ls-files --others --exclude-standard -- api config charts | xargs -r cat; } | sha256sum
}
before=$(snapshot)
"$make" -s manifests generate >/dev/null
after=$(snapshot)
if [ "$before" != "$after" ]; then
  echo "make manifests generate changed generated files; run it and commit the result:" >&2
  git status --short -- api config charts >&2
  exit 1
fi
echo "generated code and manifests are current"
