# Sourced by the project's scripts: every failure prints one line naming the step that failed and
# what to do, never a silent exit.
#   PREFIX=name; source scripts/lib/steps.sh
#   STEP="starting etcd"     before each step; an unexpected failure names it
#   fail "what went wrong: what to do"
# A failure already reported exits with REPORTED (100), so callers (and their own traps) add no
# second line for it.
REPORTED=100
STEP="starting"
say() { printf '%s: %s\n' "$PREFIX" "$*" >&2; }
fail() { say "error: $*"; exit "$REPORTED"; }
on_error() { # status line command
  trap - ERR
  [ "$1" -eq "$REPORTED" ] || say "error: ${STEP} failed (exit $1 at line $2: $3); fix that and run the command again"
  exit "$REPORTED"
}
set -Eeuo pipefail
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR
