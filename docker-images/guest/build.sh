#!/usr/bin/env bash
# Builds theseus/guest:<tag> (see Dockerfile beside this): the static theseus-guest program and the
# packed @theseus/guestutils tarball installed globally (`npm install -g` into the build context,
# with this machine's npm and the npm registry, since the local base image has no npm).
#
#   build.sh            (BASE_IMAGE and THESEUS_IMAGE_TAG as for docker-images/build.sh)
#
# Idempotent: an image whose recorded source digest (the program, the tarball's content, the
# Dockerfile, the base image) matches is left as it is.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
HERE=docker-images/guest
WORK=$ROOT/.theseus/images/guest
BASE_IMAGE=${BASE_IMAGE:-theseus/node:local}
TAG=${THESEUS_IMAGE_TAG:-local}
IMAGE=theseus/guest:$TAG

say() { printf 'images: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

[ -f guestutils/dist/index.js ] && [ -f services/dist/contract.js ] || fail "guestutils is not built: run npm run build first"
node guestutils/scripts/build-guest.mjs --install || fail "cannot build theseus-guest"

rm -rf "$WORK" && mkdir -p "$WORK/context"
tarball=$(node guestutils/scripts/pack.mjs --out "$WORK")
cp guestutils/bundle/theseus-guest "$WORK/context/theseus-guest"

# The tarball's bytes change with pack times; its file list and contents decide the digest.
content=$(mkdir -p "$WORK/unpacked" && tar -C "$WORK/unpacked" -xzf "$tarball" && cd "$WORK/unpacked" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
digest=$(printf '%s %s %s %s\n' "$content" "$(sha256sum "$WORK/context/theseus-guest" "$HERE/Dockerfile" | sha256sum | cut -c1-16)" \
  "$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE" 2>/dev/null)" "$BASE_IMAGE" | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{ index .Config.Labels "io.theseus.source-digest" }}' "$IMAGE" 2>/dev/null || true)" = "$digest" ]; then
  say "$IMAGE is up to date"; exit 0
fi

# Installed as into a project at lib/ (dependencies beside the package, as npm lays out a global
# directory): npm's --global install leaves the dependencies of a package with bundled ones empty.
say "installing $(basename "$tarball") into the build context's lib/node_modules"
mkdir -p "$WORK/context/lib" && printf '{"private": true}\n' >"$WORK/context/lib/package.json"
npm install --prefix "$WORK/context/lib" --ignore-scripts --no-package-lock --no-audit --no-fund --loglevel=error "$tarball" >&2 \
  || fail "npm install of the guestutils tarball failed (the npm registry must be reachable, or its dependencies in npm's cache)"
say "building $IMAGE"
docker build -f "$HERE/Dockerfile" --build-arg "BASE_IMAGE=$BASE_IMAGE" \
  --label "io.theseus.source-digest=$digest" --label "org.opencontainers.image.version=$(node -p 'require("./package.json").version')" \
  -t "$IMAGE" "$WORK/context" >"$WORK.log" 2>&1 || { tail -n 30 "$WORK.log" >&2; fail "building $IMAGE failed (full log: $WORK.log)"; }
