#!/usr/bin/env bash
# Builds a real kube-apiserver (v1.20) from Debian's `kubernetes` source package and caches it
# outside the work tree, so a machine builds it once:
#
#     /var/cache/kvip/kube-apiserver-<version>   the binary
#     /var/cache/kvip/kube-apiserver             symlink to it (what the testbed runs)
#
# Exits at once when the cached binary exists and answers `--version`.
#
# How (DESIGN.md, "Real components and how they start"):
#   1. a deb-src entry for bookworm in its own file, /etc/apt/sources.list.d/kvip-deb-src.sources;
#   2. `apt-get source kubernetes` in a temp dir (the package carries the full vendored tree);
#   3. a GOPATH holding src/k8s.io/kubernetes -> the tree, CGO_ENABLED=0, Debian's golang-go;
#   4. vendor/github.com/modern-go/reflect2 (v1.0.1, miscompiled by Go >= 1.18: SIGSEGV or memory
#      corruption whenever the server pretty-prints JSON, e.g. on any plain `curl`) replaced by
#      Debian's fixed v1.0.2 from golang-github-modern-go-reflect2-dev;
#   5. `make WHAT=cmd/kube-apiserver` (about 4 minutes on 2 cores).
#
# Needs root and the packages of install-deps.sh. Env: KVIP_CACHE_DIR (default /var/cache/kvip),
# KVIP_KEEP_BUILD=1 keeps the temp tree for inspection.
set -euo pipefail

CACHE=${KVIP_CACHE_DIR:-/var/cache/kvip}
LINK=$CACHE/kube-apiserver
REFLECT2=/usr/share/gocode/src/github.com/modern-go/reflect2
SRC_LIST=/etc/apt/sources.list.d/kvip-deb-src.sources
t0=$(date +%s)
say() { echo "build-kube-apiserver: $* (+$(($(date +%s) - t0)) s)"; }

if [ -x "$LINK" ] && v=$("$LINK" --version 2>/dev/null); then
    say "cached: $(readlink -f "$LINK") ($v)"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "build-kube-apiserver: must run as root (apt-get source, $CACHE)" >&2
    exit 1
fi
for t in go rsync make dpkg-source; do
    command -v "$t" >/dev/null || {
        echo "build-kube-apiserver: '$t' missing: run testbed/scripts/install-deps.sh first" >&2
        exit 1
    }
done
test -d "$REFLECT2" || {
    echo "build-kube-apiserver: $REFLECT2 missing: run testbed/scripts/install-deps.sh" >&2
    exit 1
}

mkdir -p "$CACHE"
# One build per machine at a time; a second caller waits, then finds the cache.
exec 9>"$CACHE/.build.lock"
flock -w 1800 9 || { echo "build-kube-apiserver: lock busy for 30 min" >&2; exit 1; }
if [ -x "$LINK" ] && v=$("$LINK" --version 2>/dev/null); then
    say "built meanwhile by another run: $(readlink -f "$LINK") ($v)"
    exit 0
fi

# 1. deb-src for bookworm, in a file of its own (the machine's debian.sources is left alone).
if [ ! -f "$SRC_LIST" ]; then
    cat >"$SRC_LIST" <<'EOF'
# Added by kvip testbed/scripts/build-kube-apiserver.sh: source of the `kubernetes` package.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi
if [ -z "$(apt-cache showsrc kubernetes 2>/dev/null | head -1)" ]; then
    say "apt-get update (source indexes)"
    apt-get update -q
fi

# 2. the source tree, in a temp dir removed on exit.
WORK=$(mktemp -d /var/tmp/kvip-k8s-build.XXXXXX)
cleanup() {
    if [ "${KVIP_KEEP_BUILD:-0}" = 1 ]; then
        echo "build-kube-apiserver: kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
cd "$WORK"
say "apt-get source kubernetes in $WORK"
apt-get source -q kubernetes >source.log 2>&1 || { tail -20 source.log >&2; exit 1; }
TREE=$(find "$WORK" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -1)
[ -n "$TREE" ] && [ -d "$TREE/vendor" ] || { echo "build-kube-apiserver: no vendored tree" >&2; exit 1; }
# The upstream version Debian packages: "1.20.5+really1.20.2" -> v1.20.2.
DEB_UPSTREAM=${TREE##*/kubernetes-}
VERSION=v${DEB_UPSTREAM##*really}
say "tree $TREE, version $VERSION"

# 3. GOPATH layout, 4. the reflect2 fix.
export GOPATH=$WORK/gopath GOCACHE=$WORK/gocache GOFLAGS=-mod=vendor CGO_ENABLED=0 GO111MODULE=on
export GOTOOLCHAIN=local GOPROXY=off
mkdir -p "$GOPATH/src/k8s.io"
ln -s "$TREE" "$GOPATH/src/k8s.io/kubernetes"
cd "$GOPATH/src/k8s.io/kubernetes"
rm -rf vendor/github.com/modern-go/reflect2
mkdir -p vendor/github.com/modern-go/reflect2
cp -a "$REFLECT2"/. vendor/github.com/modern-go/reflect2/
say "vendored reflect2 replaced by $(dpkg-query -W -f='${Version}' golang-github-modern-go-reflect2-dev)"

# 5. build. The tarball has no .git: give hack/lib/version.sh the version explicitly.
export KUBE_GIT_VERSION=$VERSION KUBE_GIT_TREE_STATE=clean KUBE_GIT_COMMIT=debian-$DEB_UPSTREAM
say "make WHAT=cmd/kube-apiserver (takes minutes)"
make WHAT=cmd/kube-apiserver >"$WORK/make.log" 2>&1 || { tail -40 "$WORK/make.log" >&2; exit 1; }
BIN=$(find "$TREE/_output" -type f -name kube-apiserver -perm -u+x | head -1)
[ -n "$BIN" ] || { echo "build-kube-apiserver: no binary after make" >&2; tail -40 "$WORK/make.log" >&2; exit 1; }
"$BIN" --version

# Install atomically: binary under its version, then the symlink.
DEST=$CACHE/kube-apiserver-$VERSION
cp "$BIN" "$DEST.tmp.$$"
chmod 0755 "$DEST.tmp.$$"
mv -f "$DEST.tmp.$$" "$DEST"
ln -sfn "$(basename "$DEST")" "$LINK.tmp.$$"
mv -Tf "$LINK.tmp.$$" "$LINK"
say "installed $DEST ($("$LINK" --version)), build took $(($(date +%s) - t0)) s"
