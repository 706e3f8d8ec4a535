# fixtures.py: creates the accounts of the adtest harness in a provisioned
# Samba AD DC, in one process (one samba-tool call per object would take
# about a second each). Run by the harness as
#
#     /usr/bin/python3 fixtures.py DIR/etc/smb.conf < fixtures.json
#
# with the JSON the Go side builds from its Fixtures (dc.go): a list of
# groups, a list of users, the lockout policy, and SPNs for the DC's own
# account. It prints "domain_sid=S-1-5-21-..." on success. It uses only
# Samba's Python bindings (python3-samba, installed with samba).

import json
import sys
import time

import ldb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB


def nttime(unix_seconds):
    """NTTIME: 100 ns intervals since 1601-01-01."""
    return int((unix_seconds + 11644473600) * 10000000)


def modify(samdb, dn, changes):
    """Applies (operation, attribute, values) changes to dn."""
    m = ldb.Message()
    m.dn = ldb.Dn(samdb, dn)
    for op, attr, values in changes:
        flag = {"add": ldb.FLAG_MOD_ADD, "replace": ldb.FLAG_MOD_REPLACE}[op]
        m[attr] = ldb.MessageElement([str(v) for v in values], flag, attr)
    samdb.modify(m)


def account_dn(samdb, name):
    res = samdb.search(base=samdb.domain_dn(), scope=ldb.SCOPE_SUBTREE,
                       expression="(sAMAccountName=%s)" % ldb.binary_encode(name),
                       attrs=["dn"])
    if len(res) != 1:
        raise Exception("account %r not found" % name)
    return str(res[0].dn)


def main():
    lp = LoadParm()
    lp.load(sys.argv[1])
    spec = json.load(sys.stdin)
    samdb = SamDB(url=lp.samdb_url(), session_info=system_session(), lp=lp)
    domain = samdb.domain_dn()

    # Lockout policy: durations are negative 100 ns intervals.
    minutes = int(spec["lockout_minutes"])
    window = -minutes * 60 * 10000000
    modify(samdb, domain, [
        ("replace", "lockoutThreshold", [spec["lockout_threshold"]]),
        ("replace", "lockoutDuration", [window]),
        ("replace", "lockOutObservationWindow", [window]),
    ])

    for g in spec["groups"]:
        samdb.newgroup(g)

    for u in spec["users"]:
        samdb.newuser(u["name"], u["password"],
                      force_password_change_at_next_login_req=u.get("must_change", False))
        dn = account_dn(samdb, u["name"])
        changes = []
        if u.get("spns"):
            changes.append(("add", "servicePrincipalName", u["spns"]))
        if u.get("enctypes"):
            changes.append(("replace", "msDS-SupportedEncryptionTypes", [u["enctypes"]]))
        if u.get("account_expired"):
            changes.append(("replace", "accountExpires", [nttime(time.time() - 86400)]))
        if changes:
            modify(samdb, dn, changes)
        if u.get("disabled"):
            samdb.disable_account("(sAMAccountName=%s)" % ldb.binary_encode(u["name"]))
        for g in u.get("groups") or []:
            samdb.add_remove_group_members(g, [u["name"]], add_members_operation=True)

    # SPNs of the DC's own account that only samba_spnupdate (or the
    # dnsupdate service, not run here) would add.
    dc_dn = account_dn(samdb, spec["dc_account"])
    have = samdb.search(base=dc_dn, scope=ldb.SCOPE_BASE, attrs=["servicePrincipalName"])[0]
    present = {str(v).lower() for v in have.get("servicePrincipalName", [])}
    missing = [s for s in spec["dc_spns"] if s.lower() not in present]
    if missing:
        modify(samdb, dc_dn, [("add", "servicePrincipalName", missing)])

    print("domain_sid=%s" % samdb.get_domain_sid())


if __name__ == "__main__":
    main()
