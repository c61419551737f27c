#!/usr/bin/env bash
# Builds Theseus's images:
#   theseus/deployer  theseus/subscriber  theseus/engine  theseus/mesos-slave
#   theseus/guest (FROM this to get discovery; guest/build.sh)
#   theseus/example-echo  theseus/example-pinger (FROM theseus/guest)
#   theseus/example-lb (HAProxy from Debian's packages, docker import; examples/lb/build.sh)
#
#   build.sh [image...]                 build these (default: all) from theseus/node:local, tag :local
#   build.sh --list                     print the image names and exit
#   build.sh --from-source [image...]   let each Dockerfile's build stage run npm ci and tsc itself
#                                       (needs a BASE_IMAGE with npm and a reachable npm registry)
#
# Settings (environment):
#   BASE_IMAGE          image to build from (default theseus/node:local, made by base/build.sh;
#                       with a registry, e.g. node:20-bookworm-slim)
#   THESEUS_IMAGE_TAG   tag of the built images (default local)
#   MESOS_BASE          base of theseus/mesos-slave (default: BASE_IMAGE here, which carries the
#                       containerizer but no Mesos; see mesos-slave/Dockerfile for a real one)
#   NODE_IMAGE          where theseus/mesos-slave takes node from (default BASE_IMAGE)
#   NODE_FROM           image: copy node from NODE_IMAGE; base: MESOS_BASE has node already
#                       (default base when MESOS_BASE is BASE_IMAGE, else image)
#
# By default the application is assembled on this machine (docker-images/assemble-app.sh: npm ci,
# tsc -b, production dependencies only) and handed to `docker build` as its context, because no
# registry is reachable from inside a build here and the local base image has node but no npm.
# The Dockerfiles are the same either way.
#
# Idempotent and quick to rerun: an image whose recorded source digest (label
# io.theseus.source-digest) matches its inputs is left as it is.
set -euo pipefail

SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
HERE=docker-images
WORK=$ROOT/.theseus/images

say() { printf 'images: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

# name | Dockerfile | workspaces | extra context paths | build args
IMAGES=(
  "deployer|deployer/Dockerfile|services deployer cli||"
  "subscriber|subscriber/Dockerfile|services subscriber cli||"
  "engine|engine/Dockerfile|services containerizer cluster cli||"
  "mesos-slave|mesos-slave/Dockerfile|services containerizer cli||MESOS_BASE NODE_IMAGE NODE_FROM"
  "guest|guest/Dockerfile|||"
  "example-echo|examples/Dockerfile||examples|EXAMPLE=echo GUEST_IMAGE"
  "example-pinger|examples/Dockerfile||examples|EXAMPLE=pinger GUEST_IMAGE"
  "example-lb|||"
)
# Images made by their own script (not a Dockerfile over an assembled application).
declare -A OWN_BUILD=([guest]=docker-images/guest/build.sh [example-lb]=examples/lb/build.sh)

from_source=0
wanted=()
for arg in "$@"; do
  case "$arg" in
    --from-source) from_source=1 ;;
    --list) for spec in "${IMAGES[@]}"; do echo "theseus/${spec%%|*}"; done; exit 0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) fail "unknown option $arg (see --help)" ;;
    *) wanted+=("${arg#theseus/}") ;;
  esac
done
for name in "${wanted[@]}"; do
  printf '%s\n' "${IMAGES[@]}" | grep -q "^$name|" || fail "unknown image '$name' (run with --list)"
done

mkdir -p "$WORK"
# One build at a time on this machine: concurrent runs would share the assembled directories.
if command -v flock >/dev/null && [ -z "${THESEUS_IMAGES_LOCKED:-}" ]; then
  export THESEUS_IMAGES_LOCKED=1
  exec flock "$WORK/.lock" bash "$SELF" "$@"
fi

BASE_IMAGE=${BASE_IMAGE:-theseus/node:local}
TAG=${THESEUS_IMAGE_TAG:-local}
MESOS_BASE=${MESOS_BASE:-$BASE_IMAGE}
GUEST_IMAGE=theseus/guest:$TAG
NODE_IMAGE=${NODE_IMAGE:-$BASE_IMAGE}
if [ "$MESOS_BASE" = "$BASE_IMAGE" ]; then NODE_FROM=${NODE_FROM:-base}; else NODE_FROM=${NODE_FROM:-image}; fi

command -v docker >/dev/null || fail "docker client missing (run cluster/scripts/stack.sh up docker)"
if [ "$BASE_IMAGE" = theseus/node:local ]; then
  bash "$HERE/base/build.sh"
fi
docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || [ "$from_source" -eq 1 ] \
  || fail "base image $BASE_IMAGE is not here (build it, or pull it where a registry is reachable)"

# Files whose content decides an image: sorted, hashed, then hashed together.
digest_of_files() { sort -z | xargs -0 -r sha256sum | sha256sum | cut -c1-16; }

image_digest() { # workspaces extras dockerfile buildargs
  local ws=$1 extras=$2 dockerfile=$3 args=$4
  {
    printf '%s\0' package.json package-lock.json bin/* "$HERE/$dockerfile" "$HERE/assemble-app.sh"
    for w in $ws; do published_files "$w"; done
    for e in $extras; do find "$e" -type f -print0; done
  } | digest_of_files | { read -r files; printf '%s %s %s %s %s\n' "$files" "$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE" 2>/dev/null)" \
      "$(case "$args" in *GUEST_IMAGE=*) docker image inspect -f '{{.Id}}' "$GUEST_IMAGE" 2>/dev/null ;; esac)" "$args" "$from_source" | sha256sum | cut -c1-16; }
}

# A workspace's manifest and the files it publishes (package.json "files"), NUL-separated.
published_files() {
  local w=$1 entry
  printf '%s\0' "$w/package.json"
  for entry in $(node -e 'process.stdout.write((require("./" + process.argv[1] + "/package.json").files ?? ["dist"]).join(" "))' "$w"); do
    find "$w/$entry" -type f ! -name '*.test.*' ! -name '*.map' ! -name '*.d.ts' ! -name '*.tsbuildinfo' -print0 2>/dev/null
  done
}

current_digest() { docker image inspect -f '{{ index .Config.Labels "io.theseus.source-digest" }}' "$1" 2>/dev/null || true; }

build_args_of() { # "A B=c" -> --build-arg A=$A --build-arg B=c
  local out=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
  for a in $1; do
    case "$a" in *=*) out+=(--build-arg "$a") ;; *) out+=(--build-arg "$a=${!a}") ;; esac
  done
  printf '%s\n' "${out[@]}"
}

# The application directory for a set of workspaces, assembled once per set and input digest.
assembled_app() { # workspaces -> prints the directory
  local ws=$1 key dir
  key=$(echo "$ws" | tr ' ' '-')
  dir=$WORK/app-$key
  local digest
  digest=$({ printf '%s\0' package.json package-lock.json bin/* "$HERE/assemble-app.sh"
             for w in $ws; do published_files "$w"; done; } | digest_of_files)
  if [ -f "$dir/.theseus-app" ] && [ "$(cat "$dir.digest" 2>/dev/null)" = "$digest" ]; then
    echo "$dir"; return
  fi
  # shellcheck disable=SC2086
  sh "$HERE/assemble-app.sh" "$dir" $ws >&2 || return 1
  echo "$digest" >"$dir.digest"
  echo "$dir"
}

source_context() { # the repository's files (tracked or not ignored), without node_modules or dist
  local dir=$WORK/source
  rm -rf "$dir"; mkdir -p "$dir"
  git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} sh -c '[ -f "{}" ] && printf "%s\0" "{}"' \
    | tar -C "$ROOT" --null -T - -cf - | tar -C "$dir" -xf -
  echo "$dir"
}

[ "$from_source" -eq 0 ] || src_ctx=$(source_context)

# Compiles workspaces (tsc -b, serialized with other builds of this repository). The digests are
# taken from the compiled output, so compiling comes first: a changed source is never missed.
compile() {
  # shellcheck disable=SC2086
  if command -v flock >/dev/null; then flock /tmp/theseus-tsc.lock npx --no-install tsc -b $1; else npx --no-install tsc -b $1; fi
}
selected=()
# The example images are FROM theseus/guest: it is built first whenever one of them is.
if [ "${#wanted[@]}" -gt 0 ] && printf '%s\n' "${wanted[@]}" | grep -q '^example-'; then wanted+=(guest); fi
for spec in "${IMAGES[@]}"; do
  name=${spec%%|*}
  if [ "${#wanted[@]}" -eq 0 ] || printf '%s\n' "${wanted[@]}" | grep -qx "$name"; then selected+=("$spec"); fi
done
compiled_all=0
if [ "$from_source" -eq 0 ]; then
  all_ws=$(for spec in "${selected[@]}"; do IFS='|' read -r _ _ ws _ _ <<<"$spec"; echo "$ws"; done | tr ' ' '\n' | sort -u | tr '\n' ' ')
  say "compiling $all_ws"
  compile "$all_ws" >"$WORK/tsc.log" 2>&1 && compiled_all=1 || say "not everything compiles (see below per image)"
fi

built=()
failed=()
for spec in "${selected[@]}"; do
  IFS='|' read -r name dockerfile ws extras args <<<"$spec"
  image="theseus/$name:$TAG"
  if [ -n "${OWN_BUILD[$name]:-}" ]; then
    if BASE_IMAGE=$BASE_IMAGE THESEUS_IMAGE_TAG=$TAG bash "${OWN_BUILD[$name]}"; then built+=("$image"); else failed+=("$image"); fi
    continue
  fi
  if [ "$from_source" -eq 0 ] && [ "$compiled_all" -eq 0 ] && ! compile "$ws" >&2; then
    say "$image: its workspaces ($ws) do not compile"; failed+=("$image"); continue
  fi
  mapfile -t build_args < <(build_args_of "$args")
  if [ "$from_source" -eq 1 ]; then
    digest=$(find "$src_ctx" -type f -print0 | digest_of_files)
    digest=$(printf '%s %s %s\n' "$digest" "$dockerfile" "${build_args[*]}" | sha256sum | cut -c1-16)
  else
    digest=$(image_digest "$ws" "$extras" "$dockerfile" "${build_args[*]}")
  fi
  if [ "$(current_digest "$image")" = "$digest" ]; then
    say "$image is up to date"
    built+=("$image"); continue
  fi
  if [ "$from_source" -eq 1 ]; then
    ctx=$src_ctx
  else
    ctx=$WORK/context-$name
    rm -rf "$ctx"; mkdir -p "$ctx/$HERE"
    if [ -n "$ws" ]; then
      if ! app=$(assembled_app "$ws"); then
        say "cannot assemble the application of $image (see above)"; failed+=("$image"); continue
      fi
      cp "$HERE/assemble-app.sh" "$ctx/$HERE/"
      cp -al "$app" "$ctx/app" 2>/dev/null || cp -a "$app" "$ctx/app"
    fi
    for e in $extras; do cp -R "$e" "$ctx/$e"; done
  fi
  say "building $image"
  log=$WORK/build-$name.log
  if ! docker build -f "$HERE/$dockerfile" "${build_args[@]}" \
      --label "io.theseus.source-digest=$digest" --label "org.opencontainers.image.version=$(node -p 'require("./package.json").version')" \
      -t "$image" "$ctx" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    say "building $image failed (full log: $log)"; failed+=("$image"); continue
  fi
  [ "$from_source" -eq 1 ] || rm -rf "$ctx"
  built+=("$image")
done

docker image prune -f --filter "label=io.theseus.source-digest" --filter dangling=true >/dev/null 2>&1 || true
for image in "${built[@]}"; do
  printf '%-32s %s\n' "$image" "$(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')"
done
[ "${#failed[@]}" -eq 0 ] || fail "not built: ${failed[*]}"
