#!/usr/bin/python3
"""A GSS-API peer driven line by line from a Go test.

Usage: gssdriver.py initiate MECH TARGET [USER PASSWORD [NEGMECHS]]
       gssdriver.py accept MECH [NEGMECHS]

MECH is a dotted OID (1.3.6.1.5.5.2 for SPNEGO); NEGMECHS, a comma-separated
list of dotted OIDs, sets what SPNEGO negotiates, in that order
(gss_set_neg_mechs). The initiator names
TARGET as a host-based service (service@host); with USER and PASSWORD it
acquires credentials with them, otherwise it uses the defaults (a ccache,
or NTLM_USER_FILE for gss-ntlmssp).

With GSSDRIVER_CB set to hex bytes in the environment, the context uses
channel bindings with that application data (no addresses).

Commands, one a line on stdin; each answers one line on stdout. Binary
values are base64, "-" for none:
  STEP tok           -> OUT tok complete(0|1)
  WRAP msg conf(0|1) -> DATA tok
  UNWRAP tok         -> DATA msg conf(0|1)
  MIC msg            -> DATA mic
  VERIFY msg mic     -> OK
  PEER               -> DATA name   (the initiator's name, acceptor side)
  MECH               -> DATA oid    (the mechanism actually used)
Any failure answers "ERR text", or "ERRTOKEN tok text" when the failing
STEP produced an error token (an SPNEGO reject, a KRB-ERROR).
"""
import base64
import os
import sys

import gssapi
import gssapi.raw


def b64(b):
    return base64.b64encode(b).decode() if b else "-"


def unb64(s):
    return b"" if s == "-" else base64.b64decode(s)


def bindings():
    cb = os.environ.get("GSSDRIVER_CB")
    if not cb:
        return None
    return gssapi.raw.ChannelBindings(application_data=bytes.fromhex(cb))


def set_neg_mechs(creds, oids):
    gssapi.raw.set_neg_mechs(creds, [gssapi.OID.from_int_seq(m) for m in oids.split(",")])


def main():
    role, mech = sys.argv[1], gssapi.OID.from_int_seq(sys.argv[2])
    if role == "initiate":
        target = gssapi.Name(sys.argv[3], gssapi.NameType.hostbased_service)
        creds = None
        if len(sys.argv) > 5:
            user = gssapi.Name(sys.argv[4], gssapi.NameType.user)
            creds = gssapi.raw.acquire_cred_with_password(
                user, sys.argv[5].encode(), usage="initiate", mechs=[mech]).creds
            if len(sys.argv) > 6:
                set_neg_mechs(creds, sys.argv[6])
        flags = (gssapi.RequirementFlag.mutual_authentication |
                 gssapi.RequirementFlag.integrity |
                 gssapi.RequirementFlag.confidentiality |
                 gssapi.RequirementFlag.replay_detection |
                 gssapi.RequirementFlag.out_of_sequence_detection)
        ctx = gssapi.SecurityContext(name=target, creds=creds, usage="initiate", mech=mech, flags=flags,
                                     channel_bindings=bindings())
    else:
        creds = gssapi.Credentials(usage="accept", mechs=[mech])
        if len(sys.argv) > 3:
            set_neg_mechs(creds, sys.argv[3])
        ctx = gssapi.SecurityContext(creds=creds, usage="accept", channel_bindings=bindings())
    for line in sys.stdin:
        f = line.split()
        if not f:
            continue
        try:
            if f[0] == "STEP":
                tok = unb64(f[1]) if len(f) > 1 else b""
                if role == "initiate" and not tok:
                    tok = None
                out = ctx.step(tok)
                print("OUT", b64(out), int(ctx.complete))
            elif f[0] == "WRAP":
                r = ctx.wrap(unb64(f[1]), f[2] == "1")
                print("DATA", b64(r.message))
            elif f[0] == "UNWRAP":
                r = ctx.unwrap(unb64(f[1]))
                print("DATA", b64(r.message), int(r.encrypted))
            elif f[0] == "MIC":
                print("DATA", b64(ctx.get_signature(unb64(f[1]))))
            elif f[0] == "VERIFY":
                ctx.verify_signature(unb64(f[1]), unb64(f[2]))
                print("OK")
            elif f[0] == "PEER":
                print("DATA", b64(str(ctx.initiator_name).encode()))
            elif f[0] == "MECH":
                print("DATA", b64(ctx.mech.dotted_form.encode()))
            else:
                print("ERR unknown command")
        except Exception as e:  # report every GSS failure to the test
            text = str(e).replace("\n", " ")
            tok = getattr(e, "token", None)
            if tok:
                print("ERRTOKEN", b64(tok), text)
            else:
                print("ERR", text)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
