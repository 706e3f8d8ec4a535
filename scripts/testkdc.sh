#!/bin/bash
# testkdc.sh: a throwaway MIT Kerberos realm on 127.0.0.1 for tests and demos.
#
#   scripts/testkdc.sh start DIR [PORT]   create the realm in DIR, start krb5kdc,
#                                         print the environment to use (sh syntax)
#   scripts/testkdc.sh stop DIR           stop that KDC (the folder is left for the caller)
#
# Realm GOSSPI.TEST, KDC on 127.0.0.1:PORT (UDP and TCP; default 18800 + $$ % 1000).
# Principals (password = name + "-pw" for users):
#   alice             user, password alice-pw, forwardable tickets
#   bob               user, password bob-pw
#   HTTP/localhost    service, every enctype        keytab DIR/service.keytab
#   host/localhost    service, every enctype        keytab DIR/service.keytab
#   e17/localhost e18/localhost e19/localhost e20/localhost e23/localhost
#                     services with one enctype each (17, 18, 19, 20, 23)
#   alice's keys also go to DIR/alice.keytab (client keytab).
# Files: DIR/krb5.conf (DNS lookups off), DIR/kdc.conf, DIR/kdc.pid, DIR/kdc.log.
set -eu

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2; }
PATH=$PATH:/usr/sbin:/sbin

case $cmd in
stop)
	if [ -f "$dir/kdc.pid" ]; then
		pid=$(cat "$dir/kdc.pid")
		kill "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		rm -f "$dir/kdc.pid"
	fi
	exit 0
	;;
start) ;;
*) echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2 ;;
esac

command -v krb5kdc >/dev/null && command -v kdb5_util >/dev/null && command -v kadmin.local >/dev/null || {
	echo "testkdc: MIT krb5 KDC not installed (apt-get install -y krb5-kdc krb5-admin-server krb5-user)" >&2
	exit 3
}
port=${3:-$((18800 + $$ % 1000))}
realm=GOSSPI.TEST
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
enctypes="aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96 aes256-cts-hmac-sha384-192 aes128-cts-hmac-sha256-128 arcfour-hmac"

cat >"$dir/krb5.conf" <<CONF
[libdefaults]
	default_realm = $realm
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	udp_preference_limit = 1
	allow_weak_crypto = true
	allow_rc4 = true
	forwardable = true
	default_tkt_enctypes = $enctypes
	default_tgs_enctypes = $enctypes
	permitted_enctypes = $enctypes
	default_ccache_name = FILE:$dir/ccache
	default_client_keytab_name = FILE:$dir/alice.keytab
	default_keytab_name = FILE:$dir/service.keytab

[realms]
	$realm = {
		kdc = 127.0.0.1:$port
	}

[domain_realm]
	localhost = $realm
	.gosspi.test = $realm
CONF

cat >"$dir/kdc.conf" <<CONF
[kdcdefaults]
	kdc_listen = 127.0.0.1:$port
	kdc_tcp_listen = 127.0.0.1:$port

[realms]
	$realm = {
		database_name = $dir/principal
		key_stash_file = $dir/stash
		acl_file = $dir/kadm5.acl
		max_life = 10h
		max_renewable_life = 7d
		supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal aes256-cts-hmac-sha384-192:normal aes128-cts-hmac-sha256-128:normal arcfour-hmac:normal
	}

[logging]
	kdc = FILE:$dir/kdc.log
CONF
: >"$dir/kadm5.acl"

export KRB5_CONFIG="$dir/krb5.conf" KRB5_KDC_PROFILE="$dir/kdc.conf"
kdb5_util create -s -r $realm -P masterpw >"$dir/setup.log" 2>&1
k() { kadmin.local -r $realm -q "$1" >>"$dir/setup.log" 2>&1; }
k "addprinc +requires_preauth -pw alice-pw alice"
k "addprinc +requires_preauth -pw bob-pw bob"
for s in HTTP/localhost host/localhost; do
	k "addprinc -randkey $s"
	k "ktadd -norandkey -k $dir/service.keytab $s"
done
k "modprinc +ok_as_delegate HTTP/localhost"
k "modprinc +ok_as_delegate host/localhost"
for e in 17:aes128-cts-hmac-sha1-96 18:aes256-cts-hmac-sha1-96 19:aes128-cts-hmac-sha256-128 20:aes256-cts-hmac-sha384-192 23:arcfour-hmac; do
	n=${e%%:*} name=${e#*:}
	k "addprinc -randkey -e $name:normal e$n/localhost"
	k "setstr e$n/localhost session_enctypes $name"
	k "ktadd -norandkey -k $dir/service.keytab e$n/localhost"
done
k "ktadd -norandkey -k $dir/alice.keytab alice"

krb5kdc -n -r $realm -P "$dir/kdc.pid.tmp" >>"$dir/kdc.log" 2>&1 &
echo $! >"$dir/kdc.pid"
# Wait until the KDC answers on TCP.
i=0
while ! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then echo "testkdc: KDC did not start, see $dir/kdc.log" >&2; exit 1; fi
	sleep 0.1
done
echo "KRB5_CONFIG=$dir/krb5.conf"
echo "KRB5_KDC_PROFILE=$dir/kdc.conf"
echo "TESTKDC_REALM=$realm"
echo "TESTKDC_PORT=$port"
echo "TESTKDC_DIR=$dir"
