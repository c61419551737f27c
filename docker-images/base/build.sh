#!/usr/bin/env bash
# Builds the local base images every other image and test starts from. No registry is reachable,
# so they are made with `docker import` from files on this machine:
#   theseus/busybox:local   Debian's busybox-static and nothing else (a shell, httpd, nc, wget)
#   theseus/node:local      busybox plus this machine's Node runtime, the C libraries it links, and tini
#   theseus/node:<version>  the same image, tagged with the Node version inside
# Idempotent: an image whose recorded source digest matches is left as it is.
set -euo pipefail

say() { printf 'images: %s\n' "$*" >&2; }
command -v docker >/dev/null || { say "error: docker client missing (run cluster/scripts/stack.sh up docker)"; exit 1; }
if ! dpkg -s busybox-static >/dev/null 2>&1; then
  say "installing busybox-static"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null; }
fi
BUSYBOX=/bin/busybox
# The init that runs as PID 1 in Theseus's images (forwards signals to node, reaps zombies):
# Debian's tini package ships a static build, copied to /sbin/tini in theseus/node:local.
TINI=/usr/bin/tini-static
if [ ! -x "$TINI" ]; then
  say "installing tini"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tini >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tini >/dev/null; }
fi

digest_of() { sha256sum "$@" | sha256sum | cut -c1-16; }
current_digest() { docker image inspect -f '{{ index .Config.Labels "io.theseus.source-digest" }}' "$1" 2>/dev/null || true; }

make_busybox_root() { # dir
  local root=$1
  mkdir -p "$root"/{bin,sbin,etc,tmp,proc,sys,dev,root,home,var/run,usr/bin,usr/sbin}
  chmod 1777 "$root/tmp"
  cp "$BUSYBOX" "$root/bin/busybox"
  for applet in $("$BUSYBOX" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/sh\nnode:x:1000:1000:node:/home/node:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\nnode:x:1000:\n' >"$root/etc/group"
  mkdir -p "$root/home/node" && chown 1000:1000 "$root/home/node"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
}

import_root() { # dir image digest
  tar -C "$1" -c . | docker import \
    --change "LABEL io.theseus.source-digest=$3" \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' \
    --change 'CMD ["/bin/sh"]' - "$2" >/dev/null
}

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

bb_digest=$(digest_of "$BUSYBOX" "$0")
if [ "$(current_digest theseus/busybox:local)" = "$bb_digest" ]; then
  say "theseus/busybox:local is up to date"
else
  make_busybox_root "$work/busybox"
  import_root "$work/busybox" theseus/busybox:local "$bb_digest"
  say "built theseus/busybox:local"
fi

NODE=$(command -v node)
node_version=$("$NODE" --version | sed 's/^v//')
libs=$(ldd "$NODE" | awk '/=> \//{print $3} /^\s*\/lib/{print $1}')
node_digest=$(digest_of "$BUSYBOX" "$NODE" $libs "$TINI" "$0")
if [ "$(current_digest theseus/node:local)" = "$node_digest" ]; then
  say "theseus/node:local (node $node_version) is up to date"
else
  root="$work/node"
  make_busybox_root "$root"
  mkdir -p "$root/usr/local/bin"
  cp "$NODE" "$root/usr/local/bin/node"
  for lib in $libs; do mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; done
  # glibc's resolver loads these at run time (no ldd entry) for name lookups inside the container.
  for extra in /lib/x86_64-linux-gnu/libnss_dns.so.2 /lib/x86_64-linux-gnu/libnss_files.so.2 /lib/x86_64-linux-gnu/libresolv.so.2; do
    [ -e "$extra" ] && { mkdir -p "$root$(dirname "$extra")"; cp -L "$extra" "$root$extra"; }
  done
  [ -e /lib64/ld-linux-x86-64.so.2 ] && { mkdir -p "$root/lib64"; cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"; }
  cp "$TINI" "$root/sbin/tini"
  import_root "$root" theseus/node:local "$node_digest"
  say "built theseus/node:local (node $node_version)"
fi
docker tag theseus/node:local "theseus/node:$node_version"
