#!/usr/bin/env bash
# Installs, as root, every Debian package the namespace testbed and the later scenarios need.
#
# Idempotent: when everything is already present it only checks (well under a second) and
# exits 0 without touching apt. Otherwise it runs `apt-get update` once, then one
# `apt-get install`. Installing starts no daemon on this machine kind (policy-rc.d exits 101,
# no systemd); `dnsmasq-base` is used instead of `dnsmasq` so no DNS service is added.
#
# Usage: sudo testbed/scripts/install-deps.sh        (KVIP_DEPS_FORCE=1 to re-run apt anyway)
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
    echo "install-deps.sh: must run as root (apt-get install)" >&2
    exit 1
fi

# What the packages are for:
#   iproute2 ............................ ip netns / ip link / ip addr (the topology)
#   etcd-server etcd-client ............. the 3-member etcd cluster behind kube-apiserver (+ etcdctl)
#   keepalived .......................... the VRRP baseline (S4, benchmark)
#   dnsmasq-base ........................ the DHCP server (S3)
#   tcpdump tshark ...................... frame captures (GARP / NA checks)
#   nftables ............................ the kube-proxy stand-in of the LoadBalancer stories (DNAT)
#   iputils-arping iputils-ping ......... ownership probes from the client namespace
#   curl openssl ........................ /readyz probes, CA + serving certificates
#   procps psmisc ....................... ps/pgrep for diagnostics in tests
#   golang-go rsync make dpkg-dev xz-utils  building kube-apiserver from Debian's source package
#   golang-github-modern-go-reflect2-dev  the fixed reflect2 v1.0.2 swapped into that tree (DESIGN.md)
#   ca-certificates ..................... apt/https sanity
PKGS=(
    iproute2
    etcd-server etcd-client
    keepalived
    dnsmasq-base
    tcpdump tshark
    nftables
    iputils-arping iputils-ping
    curl openssl ca-certificates
    procps psmisc
    golang-go rsync make dpkg-dev xz-utils
    golang-github-modern-go-reflect2-dev
)

missing=()
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || missing+=("$p")
done

# kubectl: this machine kind ships Google's `kubectl` package (1:528.0.0-0, client v1.32) in its
# image (its apt source is disabled, so it cannot be installed again from there). A machine
# without any kubectl gets Debian's `kubernetes-client` (v1.20.x, the same minor as the
# testbed's kube-apiserver), which provides /usr/bin/kubectl.
if ! command -v kubectl >/dev/null 2>&1; then
    missing+=(kubernetes-client)
fi

if [ ${#missing[@]} -eq 0 ] && [ "${KVIP_DEPS_FORCE:-0}" != 1 ]; then
    echo "install-deps.sh: all ${#PKGS[@]} packages and kubectl present, nothing to do"
    exit 0
fi

echo "install-deps.sh: installing: ${missing[*]:-(forced)}"
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no, without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -q
apt-get install -y -q --no-install-recommends "${PKGS[@]}" \
    $(command -v kubectl >/dev/null 2>&1 || echo kubernetes-client)

for t in ip etcd etcdctl keepalived dnsmasq tcpdump tshark nft arping ping curl openssl go rsync \
    dpkg-source kubectl; do
    command -v "$t" >/dev/null || { echo "install-deps.sh: $t still missing" >&2; exit 1; }
done
test -d /usr/share/gocode/src/github.com/modern-go/reflect2 || {
    echo "install-deps.sh: reflect2 source missing" >&2
    exit 1
}
echo "install-deps.sh: done in $(($(date +%s) - start)) s"
