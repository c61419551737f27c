#!/bin/sh
# Assembles the application directory an image carries: the root manifest and lock file, bin/,
# the named workspaces' manifests and what they publish (package.json "files": compiled
# JavaScript, data files), and the production dependencies of those workspaces only (no
# TypeScript, no test files, no dev tools).
#
#   assemble-app.sh <out-dir> <workspace>...
#
# Run from a source tree (the repository root). Steps, each skipped when already done:
#   1. npm ci             (when node_modules is missing)
#   2. tsc -b             (the named workspaces and what they reference; then the containerizer's bundle)
#   3. npm ci --omit=dev  (inside <out-dir>, for the named workspaces only)
#
# Used in two places with the same result:
#   - on the host by docker-images/build.sh, which then hands the assembled directory to
#     `docker build` (here no registry is reachable from inside a build, and the local base
#     image carries node but not npm);
#   - inside a Dockerfile's build stage when the base image has npm and the registry is
#     reachable (`build.sh --from-source`).
# A context made by build.sh already holds the assembled directory in ./app (marked by
# ./app/.theseus-app); then this script only moves it into place.
set -eu

say() { printf 'assemble: %s\n' "$*" >&2; }
[ "$#" -ge 2 ] || { say "usage: assemble-app.sh <out-dir> <workspace>..."; exit 2; }
out=$1; shift

if [ -f app/.theseus-app ]; then
  [ "$(cd app && pwd)" = "$(mkdir -p "$out" && cd "$out" && pwd)" ] || { rm -rf "$out"; mv app "$out"; }
  exit 0
fi

[ -f package.json ] && [ -f package-lock.json ] || { say "run from the repository root (package.json and package-lock.json missing)"; exit 2; }
command -v npm >/dev/null || { say "npm is missing: use an image with npm for the build stage, or docker-images/build.sh (assembles on the host)"; exit 2; }

all_workspaces=$(node -e 'process.stdout.write(require("./package.json").workspaces.join(" "))')
for w in "$@"; do
  case " $all_workspaces " in *" $w "*) ;; *) say "unknown workspace '$w' (expected one of: $all_workspaces)"; exit 2 ;; esac
done

npm_quiet="--no-audit --no-fund --loglevel=error"
if [ ! -d node_modules ]; then
  say "npm ci"
  # shellcheck disable=SC2086
  npm ci $npm_quiet --ignore-scripts
fi
projects=""
for w in "$@"; do projects="$projects $w"; done
say "tsc -b$projects"
# shellcheck disable=SC2086
if command -v flock >/dev/null; then flock /tmp/theseus-tsc.lock npx --no-install tsc -b $projects; else npx --no-install tsc -b $projects; fi
# The containerizer program runs as a single-file bundle built from what tsc just wrote (a stale one would run old code).
case " $projects " in *" containerizer "*)
  say "containerizer bundle"
  if command -v flock >/dev/null; then flock /tmp/theseus-tsc.lock node containerizer/scripts/bundle.mjs; else node containerizer/scripts/bundle.mjs; fi ;;
esac

rm -rf "$out"
mkdir -p "$out"
cp package.json package-lock.json "$out/"
cp -R bin "$out/bin"
# npm resolves the lock file against every workspace's manifest, so all manifests go in; only the
# named workspaces get their code.
for w in $all_workspaces; do
  mkdir -p "$out/$w"
  cp "$w/package.json" "$out/$w/package.json"
done
ws_flags=""
for w in "$@"; do
  # What the workspace publishes: its package.json "files" (dist, and e.g. the containerizer's proto/).
  for entry in $(node -e 'process.stdout.write((require("./" + process.argv[1] + "/package.json").files ?? ["dist"]).join(" "))' "$w"); do
    [ -e "$w/$entry" ] || { say "$w/$entry (listed in $w/package.json files) is missing"; exit 1; }
    cp -R "$w/$entry" "$out/$w/$entry"
  done
  ws_flags="$ws_flags --workspace=$w"
done
find "$out" -path "$out/node_modules" -prune -o -path '*/dist/*' \
  \( -name '*.test.*' -o -name '*.d.ts' -o -name '*.map' -o -name '*.tsbuildinfo' \) -exec rm -f {} +

say "npm ci --omit=dev$ws_flags"
# --ignore-scripts: the root's `prepare` would run tsc, which a production install does not have.
# shellcheck disable=SC2086
(cd "$out" && npm ci $npm_quiet --omit=dev --ignore-scripts --prefer-offline $ws_flags)
# Type declarations, source maps and docs are not needed at run time.
find "$out/node_modules" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' \) -exec rm -f {} +
rm -f "$out/node_modules/.package-lock.json"
touch "$out/.theseus-app"
say "assembled $out ($(du -sh "$out" | cut -f1))"
