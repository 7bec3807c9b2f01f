#!/usr/bin/env bash
# fuzz.sh FUZZTIME PKG:Target... runs each fuzz target for FUZZTIME.
#
# Go 1.26's fuzz coordinator can report "context deadline exceeded" as a
# failure when -fuzztime ends while a worker is mid-call, with no failing
# input (golang/go#75804, fixed in Go 1.27). A failure counts only when the
# fuzzer wrote a reproducer under PKG/testdata/fuzz/Target/; that race, and
# nothing else, is reported and run once more.
set -uo pipefail

[[ $# -ge 2 ]] || { echo "usage: fuzz.sh FUZZTIME PKG:Target..." >&2; exit 2; }
fuzztime=$1; shift
GO=${GO:-go}

run() { # pkg target log
  "$GO" test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" "$1" 2>&1 | tee "$3"
  return "${PIPESTATUS[0]}"
}

rc=0
for t in "$@"; do
  pkg=${t%%:*} target=${t#*:} dir=${t%%:*}/testdata/fuzz/${t#*:}
  log=$(mktemp) before=$(ls "$dir" 2>/dev/null | sort)
  for try in 1 2; do
    echo "fuzz $t ($fuzztime)"
    run "$pkg" "$target" "$log" && break
    after=$(ls "$dir" 2>/dev/null | sort)
    if [[ $after != "$before" ]] || ! grep -q '^    context deadline exceeded$' "$log" || [[ $try == 2 ]]; then
      new=$(comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')
      echo "fuzz.sh: $t FAILED (${new:+failing input in $dir: $new}${new:-no input written; the output above says why})" >&2
      rc=1; break
    fi
    echo "fuzz.sh: $t stopped on Go's fuzztime race (golang/go#75804), no input written; once more" >&2
  done
  rm -f "$log"
done
exit $rc
