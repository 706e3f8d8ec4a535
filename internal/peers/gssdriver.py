#!/usr/bin/python3
"""gssdriver: drive one MIT GSSAPI security context from another process.

A test starts this script with Debian's interpreter (/usr/bin/python3, which
has python3-gssapi) and talks to it over stdin/stdout, one line per message,
each line a verb followed by space-separated fields; binary data is base64.

Command line:
  --role initiate|accept    which side this process plays
  --mech ntlm|krb5|spnego   NTLM needs gss-ntlmssp; krb5 and spnego MIT krb5
  --target NAME             initiator: the acceptor's name (hostbased form
                            "service@host" unless --name-type user);
                            acceptor: optional name to acquire credentials for
  --name-type hostbased|user|principal
  --user NAME --password PW initiator: acquire credentials with a password
                            (gss_acquire_cred_with_password); without them the
                            default credentials are used: NTLM_USER_FILE for
                            NTLM, the ccache (KRB5CCNAME) for krb5
  --cb-app-data HEX         channel bindings with this application data
  --flags LIST              comma list of mutual, delegate, replay, sequence,
                            integ, conf, anonymous (initiator request flags;
                            default integ,conf,replay,sequence)
Environment the peer libraries read: NTLM_USER_FILE (gss-ntlmssp users,
"DOMAIN:USER:PASSWORD" lines), KRB5_CONFIG, KRB5CCNAME, KRB5_KTNAME (acceptor
keytab), KRB5_CLIENT_KTNAME, GSSNTLMSSP_DEBUG, KRB5_TRACE.

Handshake. The driver writes every output token as
  token <b64>
The initiator writes its first token at once. Each side then reads
  token <b64>
lines from the peer and answers with its own token, if any. When the context
is complete it writes
  established mech=<oid> peer=<name> flags=<hex> key=<hex or ->
(after the last token, if the last step produced one).

Commands once established (each answered by one line):
  wrap 0|1 <b64>            -> ok <b64 token> <1 if encrypted else 0>
  unwrap <b64>              -> ok <b64 message> <encrypted 0|1>
  get_signature <b64>       -> ok <b64 signature>
  verify_signature <b64 message> <b64 signature> -> ok
  info                      -> established ... (as above)
  quit                      -> the driver exits
Any failure is answered with
  error <major or exception name> <one-line message>
and the driver keeps reading commands (a failed handshake step ends it).
"""

import argparse
import base64
import sys

import gssapi
import gssapi.raw as graw

MECHS = {
    "ntlm": "1.3.6.1.4.1.311.2.2.10",
    "krb5": "1.2.840.113554.1.2.2",
    "spnego": "1.3.6.1.5.5.2",
}
SESSION_KEY_OID = "1.2.840.113554.1.2.2.5.5"  # GSS_C_INQ_SSPI_SESSION_KEY
FLAGS = {
    "mutual": gssapi.RequirementFlag.mutual_authentication,
    "delegate": gssapi.RequirementFlag.delegate_to_peer,
    "replay": gssapi.RequirementFlag.replay_detection,
    "sequence": gssapi.RequirementFlag.out_of_sequence_detection,
    "integ": gssapi.RequirementFlag.integrity,
    "conf": gssapi.RequirementFlag.confidentiality,
    "anonymous": gssapi.RequirementFlag.anonymity,
}
NAME_TYPES = {
    "hostbased": gssapi.NameType.hostbased_service,
    "user": gssapi.NameType.user,
    "principal": gssapi.NameType.kerberos_principal,
}


def out(*fields):
    sys.stdout.write(" ".join(str(f) for f in fields) + "\n")
    sys.stdout.flush()


def b64(data):
    return base64.b64encode(data or b"").decode()


def unb64(s):
    return base64.b64decode(s)


def fail(e):
    msg = str(e).replace("\n", " ")
    out("error", type(e).__name__, msg)


def established(ctx):
    key = "-"
    try:
        res = graw.inquire_sec_context_by_oid(ctx, gssapi.OID.from_int_seq(SESSION_KEY_OID))
        if res:
            key = res[0].hex()
    except Exception:  # not every mechanism offers the session key
        pass
    peer = ctx.initiator_name if ctx.usage == "accept" else ctx.target_name
    out("established", "mech=%s" % ctx.mech, "peer=%s" % str(peer).replace(" ", "_"),
        "flags=%x" % int(ctx.actual_flags), "key=%s" % key)


def read_token():
    line = sys.stdin.readline()
    if not line:
        sys.exit(0)
    parts = line.split()
    if len(parts) != 2 or parts[0] != "token":
        out("error", "protocol", "expected a token line, got %r" % line.strip())
        sys.exit(1)
    return unb64(parts[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", choices=["initiate", "accept"], required=True)
    ap.add_argument("--mech", choices=sorted(MECHS), required=True)
    ap.add_argument("--target")
    ap.add_argument("--name-type", choices=sorted(NAME_TYPES), default="hostbased")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--cb-app-data")
    ap.add_argument("--flags", default="integ,conf,replay,sequence")
    a = ap.parse_args()

    mech = gssapi.OID.from_int_seq(MECHS[a.mech])
    cb = None
    if a.cb_app_data is not None:
        cb = graw.ChannelBindings(application_data=bytes.fromhex(a.cb_app_data))
    try:
        if a.role == "initiate":
            creds = None
            if a.user is not None:
                name = gssapi.Name(a.user, gssapi.NameType.user)
                creds = gssapi.Credentials(
                    graw.acquire_cred_with_password(name, a.password.encode(), usage="initiate", mechs=[mech]).creds)
            flags = 0
            for f in filter(None, a.flags.split(",")):
                flags |= int(FLAGS[f])
            target = gssapi.Name(a.target, NAME_TYPES[a.name_type])
            ctx = gssapi.SecurityContext(name=target, creds=creds, mech=mech, flags=flags or None,
                                         usage="initiate", channel_bindings=cb)
            tok = ctx.step()
            if tok:
                out("token", b64(tok))
            while not ctx.complete:
                tok = ctx.step(read_token())
                if tok:
                    out("token", b64(tok))
        else:
            creds = None
            if a.target:
                name = gssapi.Name(a.target, NAME_TYPES[a.name_type])
                creds = gssapi.Credentials(name=name, usage="accept", mechs=[mech])
            ctx = gssapi.SecurityContext(creds=creds, usage="accept", channel_bindings=cb)
            while not ctx.complete:
                tok = ctx.step(read_token())
                if tok:
                    out("token", b64(tok))
    except Exception as e:
        fail(e)
        return 1
    established(ctx)

    for line in sys.stdin:
        p = line.split()
        if not p:
            continue
        try:
            if p[0] == "quit":
                return 0
            elif p[0] == "wrap":
                res = ctx.wrap(unb64(p[2]), p[1] == "1")
                out("ok", b64(res.message), int(res.encrypted))
            elif p[0] == "unwrap":
                res = ctx.unwrap(unb64(p[1]))
                out("ok", b64(res.message), int(res.encrypted))
            elif p[0] == "get_signature":
                out("ok", b64(ctx.get_signature(unb64(p[1]))))
            elif p[0] == "verify_signature":
                ctx.verify_signature(unb64(p[1]), unb64(p[2]))
                out("ok")
            elif p[0] == "info":
                established(ctx)
            else:
                out("error", "protocol", "unknown command %r" % p[0])
        except Exception as e:
            fail(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
