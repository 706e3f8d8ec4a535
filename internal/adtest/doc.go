// Package adtest runs the module's security packages against a real
// Active Directory domain controller: Samba 4.17 as an AD DC (a Heimdal
// KDC issuing AD PACs, an LDAP server with SASL GSSAPI and GSS-SPNEGO,
// Samba's NTLMSSP), provisioned on loopback by the tests themselves. It
// holds the harness (this package's non-test files) and the tests that
// use it; more tests can be added to the package.
//
// # What it needs
//
// Linux, root, and the Debian packages
//
//	apt-get install -y samba samba-ad-dc samba-ad-provision samba-dsdb-modules \
//	    winbind smbclient krb5-user iproute2 util-linux
//
// (samba-ad-provision and samba-dsdb-modules are only recommended by
// samba, so an install with --no-install-recommends needs them named), and
// for some tests krb5-gss-samples and python3-gssapi. Without them every
// test skips, saying what is missing; with SSPI_INTEROP=1 (as CI runs
// go test -race ./...) they fail instead, as do the tests when the DC
// does not start.
//
// # How it runs
//
// The package's TestMain calls [Main]. Run by go test, the test binary
// re-executes itself under
//
//	unshare --net --mount --uts --pid --fork --kill-child --mount-proc
//
// so that the DC and every client talking to it live in a network
// namespace that has only a loopback interface: nothing can reach, or
// query, anything outside (the host's /etc/resolv.conf names a resolver
// that must never be asked). Inside, as PID 1 of the new PID namespace,
// the binary brings lo up with 127.0.0.2, bind-mounts a private
// /etc/hosts (dc1.samba.test and samba.test → 127.0.0.2, web.samba.test
// and localhost → 127.0.0.1) and /etc/resolv.conf (nameserver 127.0.0.1,
// where nothing listens), sets the host name dc1, and runs the tests. The
// first one that calls [Require]:
//
//   - writes a krb5.conf for the realm (kdc = 127.0.0.2, no DNS or
//     reverse lookups, rc4-hmac allowed), mounts it over /etc/krb5.conf
//     too, and sets KRB5_CONFIG, a private KRB5CCNAME and KRB5RCACHEDIR,
//     so that the library's packages and the MIT tools find the DC;
//   - provisions the domain SAMBA.TEST (NetBIOS SAMBA, DNS samba.test,
//     with its own DNS server: --dns-backend=SAMBA_INTERNAL, serving
//     the domain's zone with its _kerberos, _ldap and _msdcs SRV records on
//     127.0.0.2:53) into a temporary folder with
//     samba-tool domain provision, listening on 127.0.0.2 only, with a
//     TLS certificate of the harness's own CA for LDAPS, "ldap server
//     require strong auth = allow_sasl_over_tls" (plain LDAP requires
//     sign or seal; LDAPS takes SASL binds without them) and
//     auth_audit:3 logging;
//   - starts samba -i (services rpc, ldap, cldap, kdc, winbindd, dns) and
//     waits for ports 88, 389 and 636, while fixtures.py creates the
//     accounts of [Fixtures] in the directory (Samba's Python bindings,
//     one process).
//
// After the tests the binary stops samba (closing its standard input,
// then signalling its process group) and kills whatever is left in the
// PID namespace.
//
// The outer test binary removes the folder when the inner one exits. If
// the inner one dies (a panic, a timeout), the kernel kills every process
// of its PID namespace, samba included; if the outer one is killed,
// unshare dies with it (parent-death signal) and takes the namespace
// along (the folder then stays in the temporary directory). The setup
// takes 6 to 15 seconds on two cores, once per run of the test binary,
// and none when no test of the package runs; the DC is shared by all
// tests.
//
// # Writing tests
//
// Call [Require] first: it returns the [DC] or skips (fails under
// SSPI_INTEROP=1). The fixtures are [Alice] (member of [GroupEngineers]
// and [GroupReaders]), [Bob] (for wrong passwords: the domain locks an
// account out after [LockoutThreshold] bad ones), [WebService]
// (HTTP/web.samba.test, AES only), [RC4Service] (HTTP/rc4.samba.test, RC4
// only), [DisabledUser], [ExpiredPasswordUser], [ExpiredAccountUser] and
// [LockMe]; the DC's account has the SPNs ldap/dc1.samba.test. Services a
// test runs itself listen on 127.0.0.1 and are reached as web.samba.test.
// [DC.ExportKeytab] gives an acceptor the keys of an SPN, [DC.Kinit] a
// credential cache from MIT kinit, [DC.SambaTool] anything else
// (samba-tool user add, group addmembers, ...), and [DC.LogTail] samba's
// log, where every authentication is reported with its NTSTATUS.
//
// # Environment
//
//   - GOSSPI_ADTEST_PATH replaces PATH for finding samba-tool, samba,
//     unshare, ip and python3 (/usr/sbin is then not searched):
//     GOSSPI_ADTEST_PATH=/nonexistent go test ./internal/adtest shows the
//     skips of a machine without Samba.
//   - GOSSPI_ADTEST_KEEP=1 keeps the DC's folder (provision, logs,
//     keytabs, credential caches) after the run.
//   - GOSSPI_ADTEST_SHELL=command runs command (with sh -c) inside the
//     namespace once the DC is up, instead of the tests:
//     scripts/samba-dc.sh uses it for an interactive shell next to the
//     DC.
package adtest
