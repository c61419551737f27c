#!/usr/bin/env bash
# Builds theseus/example-lb:<tag>: HAProxy from Debian's packages, busybox, tini and theseus-guest,
# assembled into an image with `docker import` (no registry needed). Its configuration is rendered
# by theseus-guest from the healthy endpoints of LB_SERVICE (default echo) on every change, checked,
# and HAProxy reloads gracefully (entrypoint.sh, haproxy.cfg.tmpl).
#
#   examples/lb/build.sh       (THESEUS_IMAGE_TAG as for docker-images/build.sh; needs root for apt-get)
#
# Idempotent: an image whose recorded source digest matches its inputs is left as it is.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
HERE=examples/lb
WORK=$ROOT/.theseus/images/lb
TAG=${THESEUS_IMAGE_TAG:-local}
IMAGE=theseus/example-lb:$TAG
# HAProxy and the libraries it links that a minimal Debian may lack.
PACKAGES=(haproxy liblua5.3-0 libopentracing-c-wrapper0 libopentracing1)

say() { printf 'images: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

for tool in busybox-static:/bin/busybox tini:/usr/bin/tini-static; do
  [ -x "${tool#*:}" ] && continue
  say "installing ${tool%%:*}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${tool%%:*}" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${tool%%:*}" >/dev/null; } \
    || fail "cannot install ${tool%%:*} from Debian's packages"
done
node guestutils/scripts/build-guest.mjs --install || fail "cannot build theseus-guest"

mkdir -p "$WORK/debs"
versions=$(apt-cache policy "${PACKAGES[@]}" 2>/dev/null | awk '/^[a-z]/{p=$1} /Candidate:/{print p $2}' | tr '\n' ' ')
digest=$(printf '%s %s\n' "$versions" "$(sha256sum "$HERE"/entrypoint.sh "$HERE"/reload.sh "$HERE"/haproxy.cfg.tmpl "$0" guestutils/bundle/theseus-guest /bin/busybox | sha256sum)" | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{ index .Config.Labels "io.theseus.source-digest" }}' "$IMAGE" 2>/dev/null || true)" = "$digest" ]; then
  say "$IMAGE is up to date"; exit 0
fi

say "downloading ${PACKAGES[*]}"
(cd "$WORK/debs" && rm -f ./*.deb && apt-get download "${PACKAGES[@]}" >/dev/null 2>&1) || {
  apt-get update -qq >/dev/null && (cd "$WORK/debs" && apt-get download "${PACKAGES[@]}" >/dev/null 2>&1); } \
  || fail "cannot download ${PACKAGES[*]} from Debian's packages"
rootfs=$WORK/rootfs
rm -rf "$rootfs" "$WORK/extract" && mkdir -p "$rootfs"/{bin,sbin,etc,tmp,proc,sys,dev,root,home/node,lb,run/lb,usr/local/bin,usr/sbin} "$WORK/extract"
for deb in "$WORK"/debs/*.deb; do dpkg -x "$deb" "$WORK/extract"; done
chmod 1777 "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"; done
cp /usr/bin/tini-static "$rootfs/sbin/tini"
cp "$WORK/extract/usr/sbin/haproxy" "$rootfs/usr/sbin/haproxy"
cp guestutils/bundle/theseus-guest "$rootfs/usr/local/bin/theseus-guest"
cp "$HERE/entrypoint.sh" "$HERE/reload.sh" "$HERE/haproxy.cfg.tmpl" "$rootfs/lb/"
# The shared libraries HAProxy links: from the downloaded packages, else from this Debian machine.
libs=$(LD_LIBRARY_PATH="$WORK/extract/usr/lib/x86_64-linux-gnu" ldd "$WORK/extract/usr/sbin/haproxy")
missing=$(printf '%s\n' "$libs" | awk '/not found/{print $1}')
[ -z "$missing" ] || fail "libraries HAProxy needs are not on this machine: $missing"
for lib in $(printf '%s\n' "$libs" | awk '/=> \//{print $3} /^\t\/lib/{print $1}'); do
  case "$lib" in "$WORK/extract"/*) target=${lib#"$WORK/extract"} ;; *) target=$lib ;; esac
  mkdir -p "$rootfs$(dirname "$target")"
  cp -L "$lib" "$rootfs$target"
done
[ -e "$rootfs/lib64/ld-linux-x86-64.so.2" ] || { mkdir -p "$rootfs/lib64"; cp -L /lib64/ld-linux-x86-64.so.2 "$rootfs/lib64/"; }
printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/home/node:/bin/sh\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\n' >"$rootfs/etc/group"
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
chown -R 1000:1000 "$rootfs/home/node" "$rootfs/run/lb"

say "importing $IMAGE"
tar -C "$rootfs" -c . | docker import \
  --change "LABEL io.theseus.source-digest=$digest" \
  --change 'LABEL org.opencontainers.image.title="theseus-example-lb" org.opencontainers.image.description="Theseus example: HAProxy following a service through theseus-guest" io.theseus.role="example" io.theseus.example="lb"' \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' \
  --change 'USER node' \
  --change 'WORKDIR /home/node' \
  --change 'ENTRYPOINT ["/sbin/tini", "-g", "--", "/lb/entrypoint.sh"]' - "$IMAGE" >/dev/null
version=$(docker run --rm --entrypoint haproxy "$IMAGE" -v) || fail "HAProxy does not run in $IMAGE"
say "${version%%$'\n'*}"
