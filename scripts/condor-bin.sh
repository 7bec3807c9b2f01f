#!/usr/bin/env bash
# condor-bin.sh DIR makes DIR/condor_q, DIR/condor_status, ... : one tiny
# wrapper per HTCondor tool and daemon in the trixie root, each calling
# scripts/condor-wrap. Put DIR on PATH (or give it to lib/condor as BinDir) to
# use the root's HTCondor from this host as if it were installed here.
# Idempotent; safe to run while others use DIR (files are replaced atomically).
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: condor-bin.sh DIR" >&2; exit 2; }
dir=$1
ROOT=${EHOS_CONDOR_ROOT:-/var/lib/ehos/trixie}
wrap=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)/condor-wrap
[[ -x $ROOT/usr/bin/condor_version ]] || { echo "condor-bin.sh: no HTCondor in $ROOT (run scripts/install-condor.sh)" >&2; exit 1; }

mkdir -p "$dir"
n=0
for f in "$ROOT"/usr/bin/condor_* "$ROOT"/usr/sbin/condor_* "$ROOT"/usr/bin/classad_*; do
  [[ -x $f ]] || continue
  name=$(basename "$f")
  tmp=$(mktemp "$dir/.$name.XXXXXX")
  printf '#!/bin/sh\nexec %q %q "$@"\n' "$wrap" "${f#"$ROOT"}" >"$tmp"
  chmod 0755 "$tmp"
  mv -f "$tmp" "$dir/$name"
  n=$((n + 1))
done
echo "condor-bin.sh: $n wrappers in $dir" >&2
