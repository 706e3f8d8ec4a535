#!/usr/bin/env bash
# samba-dc.sh: a shell (or a command) next to the Samba AD DC of the
# internal/adtest harness, for poking at it by hand:
#
#   sudo scripts/samba-dc.sh                  # interactive shell
#   sudo scripts/samba-dc.sh 'kinit alice && klist'
#
# It builds the test binary of internal/adtest and runs it with
# GOSSPI_ADTEST_SHELL, so the DC is provisioned and started exactly as for
# the tests: in private network, mount, UTS and PID namespaces (loopback
# only, dc1.samba.test = 127.0.0.2), stopped and removed when the command
# exits. KRB5_CONFIG points at the realm; $ADTEST_SMBCONF is the DC's
# smb.conf (samba-tool ... -s "$ADTEST_SMBCONF"), $ADTEST_CAFILE the CA of
# its LDAPS certificate. Set GOSSPI_ADTEST_KEEP=1 to keep its folder.
# Needs root and the packages listed in internal/adtest/doc.go.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/gosspi-samba-dc.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/adtest.test" ./internal/adtest
GOSSPI_ADTEST_SHELL="${*:-${SHELL:-bash} -i}" "$tmp/adtest.test"
