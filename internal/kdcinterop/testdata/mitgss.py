#!/usr/bin/python3
"""mitgss: MIT GSSAPI (python3-gssapi) on both sides of Kerberos contexts.

For each target name given (hostbased, "service@host") it establishes a
context from the default credentials (the ccache of KRB5CCNAME, or a
password with --user/--password) to an acceptor using the keytab of
KRB5_KTNAME, exchanges a sealed message each way, and reports as one JSON
object per line:
  target, mech, token (the initiator's first token, base64), initiator
  (the name the acceptor saw), flags, attrs (the acceptor's name
  attributes: name -> [hex value, authenticated]), delegated, and, with
  --delegate-to NAME, second: the same from a context the acceptor
  established to NAME with the delegated credentials.
Any failure is reported as {"target": ..., "error": "..."} and exit 1.
"""

import argparse
import base64
import json
import sys

import gssapi
import gssapi.raw as graw

MECHS = {"krb5": "1.2.840.113554.1.2.2", "spnego": "1.3.6.1.5.5.2"}
F = gssapi.RequirementFlag


def attrs(name):
    res = {}
    for a in name.attributes:
        r = name.attributes[a]
        res[a.decode()] = [r.values[0].hex() if r.values else "", bool(r.authenticated)]
    return res


def handshake(target, mech, creds, flags):
    name = gssapi.Name(target, gssapi.NameType.hostbased_service)
    ic = gssapi.SecurityContext(name=name, usage="initiate", mech=mech, creds=creds, flags=flags)
    ac = gssapi.SecurityContext(usage="accept")
    first = tok = ic.step()
    while not (ic.complete and ac.complete):
        tok = ac.step(tok)
        if ic.complete:
            break
        tok = ic.step(tok)
    msg = b"sealed from the initiator"
    got = ac.unwrap(ic.wrap(msg, True).message)
    if got.message != msg or not got.encrypted:
        raise Exception("initiator to acceptor wrap did not round-trip")
    back = ic.unwrap(ac.wrap(b"reply", True).message)
    if back.message != b"reply":
        raise Exception("acceptor to initiator wrap did not round-trip")
    return ac, {"target": target, "mech": str(ac.mech), "token": base64.b64encode(first).decode(),
                "initiator": str(ac.initiator_name), "flags": int(ac.actual_flags),
                "attrs": attrs(ac.initiator_name), "delegated": ac.delegated_creds is not None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mech", default="krb5")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--delegate", action="store_true")
    ap.add_argument("--delegate-to")
    ap.add_argument("targets", nargs="+")
    a = ap.parse_args()
    mech = gssapi.OID.from_int_seq(MECHS[a.mech])
    creds = None
    if a.user:
        user = gssapi.Name(a.user, gssapi.NameType.kerberos_principal)
        creds = graw.acquire_cred_with_password(user, a.password.encode(), usage="initiate").creds
        creds = gssapi.Credentials(base=creds)
    flags = F.mutual_authentication | F.integrity | F.confidentiality | F.replay_detection | F.out_of_sequence_detection
    if a.delegate:
        flags |= F.delegate_to_peer
    status = 0
    for t in a.targets:
        try:
            ac, res = handshake(t, mech, creds, flags)
            if a.delegate_to and ac.delegated_creds is not None:
                _, second = handshake(a.delegate_to, mech, ac.delegated_creds, F.mutual_authentication | F.integrity | F.confidentiality)
                res["second"] = second
        except Exception as e:
            res = {"target": t, "error": "%s: %s" % (type(e).__name__, str(e).replace("\n", " "))}
            status = 1
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()
    sys.exit(status)


if __name__ == "__main__":
    main()
