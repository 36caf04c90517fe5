#!/bin/sh
# Install the Debian 12 packages iaproxy needs (run as root).
#   ./install-deps.sh build   what building and running the gateway needs
#   ./install-deps.sh test    that, plus the peers and clients the tests use
set -eu
export DEBIAN_FRONTEND=noninteractive

BUILD="build-essential autoconf automake libtool pkg-config libevent-dev
  libkrb5-dev libntlm0-dev libssl-dev libldap-dev libconfuse-dev libpcre2-dev
  liblasso3-dev"
TEST="curl openssl python3 iproute2 procps clang winbind python3-ntlm-auth
  libclang-rt-14-dev valgrind slapd ldap-utils samba
  samba-ad-dc samba-ad-provision krb5-kdc krb5-admin-server krb5-user
  faketime gss-ntlmssp python3-lasso python3-lxml xmlsec1"

case "${1:-}" in
build)	pkgs="$BUILD" ;;
test)	pkgs="$BUILD $TEST" ;;
*)	echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi
