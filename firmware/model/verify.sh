#!/usr/bin/env bash
# Runs SPIN on firmware/model/twinstep.pml in a scratch directory and checks the result.
#   verify.sh pass <name> [spin -D flags...]   every assertion (or -DLTL claim) holds, exhaustively
#   verify.sh fail <name> [spin -D flags...]   a counterexample is found (a mutation test)
# Extra flags: -DLTL=<claim> checks that LTL claim with acceptance cycles and weak fairness.
# Bounded: pan stops at TWINSTEP_PAN_MEMLIM MiB (default 1500) and depth 20000.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
expect="$1"; name="$2"; shift 2
claim=""
spin_flags=()
for f in "$@"; do
  case "$f" in
    -DLTL=*) claim="${f#-DLTL=}"; spin_flags+=(-DLIVE) ;;
    *) spin_flags+=("$f") ;;
  esac
done
work="$(mktemp -d "${TMPDIR:-/tmp}/twinstep-model-$name.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp "$here/twinstep.pml" "$work/"
cd "$work"
if ! spin "${spin_flags[@]}" -a twinstep.pml >spin.log 2>&1; then
  echo "verify.sh: spin -a failed for $name:"; cat spin.log; exit 2
fi
memlim="${TWINSTEP_PAN_MEMLIM:-1500}"
if [[ -n "$claim" ]]; then
  gcc -O2 -DMEMLIM="$memlim" -DCOLLAPSE -DNFAIR=3 -o pan pan.c || exit 2
  run=(./pan -a -f -N "$claim" -m20000 -w24)
else
  # a mutant stops at its first error: compiling fast matters more than running fast
  opt=-O2; [[ "$expect" == fail ]] && opt=-O0
  gcc "$opt" -DSAFETY -DMEMLIM="$memlim" -DCOLLAPSE -o pan pan.c || exit 2
  run=(./pan -m20000 -w24)
fi
start=$(date +%s%N)
"${run[@]}" >pan.log 2>&1
end=$(date +%s%N)
errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.log | head -1)
states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.log | head -1)
echo "model $name (${spin_flags[*]} ${claim:+ltl $claim}): errors ${errors:-?}, states stored ${states:-?}, $(( (end - start) / 1000000 )) ms"
if grep -q "max search depth too small\|out of memory\|Search not completed" pan.log && [[ "$expect" == pass ]]; then
  echo "verify.sh: $name: search incomplete (depth or memory bound hit):"; cat pan.log; exit 1
fi
case "$expect" in
  pass)
    if [[ "$errors" != 0 ]]; then
      echo "verify.sh: $name: property violated; counterexample:"
      grep -E "violated|acceptance cycle|invalid end" pan.log
      spin "${spin_flags[@]}" -t -p twinstep.pml | grep -E "^ *[0-9]+:.*proc" | tail -80
      exit 1
    fi ;;
  fail)
    if [[ -z "$errors" || "$errors" == 0 ]]; then
      echo "verify.sh: $name: the weakened model passed; the properties did not catch the mutation"
      sed -n '/^(Spin/,/^Stats/p' pan.log; exit 1
    fi
    echo "counterexample (as expected): $(grep -E -m1 "violated|acceptance cycle" pan.log)" ;;
  *) echo "verify.sh: first argument must be pass or fail, not '$expect'"; exit 2 ;;
esac
exit 0
