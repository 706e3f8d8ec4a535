#!/usr/bin/python3
"""MIT krb5 GSS-API driven line by line, for the Kerberos interop tests.

Usage: gssdriver.py initiate TARGET [flags...] | gssdriver.py accept [flags...]
Flags: mutual, nomutual, deleg, seq, dce, cb=HEX (channel-binding application data).
Credentials come from the environment (KRB5CCNAME, KRB5_KTNAME, KRB5_CONFIG).

Protocol (one line each way, base64 payloads):
  driver -> "TOKEN <b64>"           a context token to pass to the peer
  test   -> "TOKEN <b64>"           the peer's token
  driver -> "ESTABLISHED <peer name> <deleg 0|1>"
  then commands, each answered by "OK ..." or "ERR <text>":
  "WRAP <0|1> <b64>"   -> "OK <b64 token>"
  "UNWRAP <b64>"       -> "OK <0|1 encrypted> <b64 message>"
  "UNWRAPIOV <b64 header> <b64 data> [<b64 padding>]" -> the same through
                          gss_unwrap_iov with HEADER, DATA (and PADDING) buffers:
                          the SSPI TOKEN, DATA and PADDING split
  "MIC <b64>"          -> "OK <b64 token>"
  "VERIFY <b64 msg> <b64 mic>" -> "OK"
  "DELEG TARGET"       -> "OK <b64 token>": an AP-REQ made with the delegated credential
  "QUIT"
"""
import base64
import sys

import gssapi
import gssapi.raw

KRB5 = gssapi.MechType.kerberos


def b64(b):
    return base64.b64encode(b or b"").decode()


def unb64(s):
    return base64.b64decode(s)


def say(*parts):
    sys.stdout.write(" ".join(parts) + "\n")
    sys.stdout.flush()


def main():
    role = sys.argv[1]
    args = sys.argv[2:]
    target = None
    if role == "initiate":
        target, args = args[0], args[1:]
    opts = {}
    for a in args:
        k, _, v = a.partition("=")
        opts[k] = v
    cb = None
    if "cb" in opts:
        cb = gssapi.raw.ChannelBindings(application_data=bytes.fromhex(opts["cb"]))
    flags = [gssapi.RequirementFlag.integrity, gssapi.RequirementFlag.confidentiality]
    if "nomutual" not in opts:
        flags.append(gssapi.RequirementFlag.mutual_authentication)
    if "deleg" in opts:
        flags.append(gssapi.RequirementFlag.delegate_to_peer)
    if "dce" in opts:
        flags.append(gssapi.RequirementFlag.dce_style)
    if "seq" in opts:
        flags += [gssapi.RequirementFlag.replay_detection, gssapi.RequirementFlag.out_of_sequence_detection]

    if role == "initiate":
        name = gssapi.Name(target, gssapi.NameType.hostbased_service)
        ctx = gssapi.SecurityContext(name=name, usage="initiate", mech=KRB5, flags=flags, channel_bindings=cb)
        tok = ctx.step()
        say("TOKEN", b64(tok))
        while not ctx.complete:
            line = sys.stdin.readline().split()
            tok = ctx.step(unb64(line[1]) if len(line) > 1 else b"")
            if tok:
                say("TOKEN", b64(tok))
        peer = str(ctx.target_name)
        deleg = "0"
    else:
        creds = gssapi.Credentials(usage="accept")
        ctx = gssapi.SecurityContext(creds=creds, usage="accept", channel_bindings=cb)
        while not ctx.complete:
            line = sys.stdin.readline().split()
            tok = ctx.step(unb64(line[1]) if len(line) > 1 else b"")
            say("TOKEN", b64(tok))
        peer = str(ctx.initiator_name)
        deleg = "1" if ctx.delegated_creds is not None else "0"
    say("ESTABLISHED", peer, deleg)

    for line in sys.stdin:
        f = line.split()
        if not f:
            continue
        try:
            if f[0] == "QUIT":
                return
            if f[0] == "WRAP":
                say("OK", b64(ctx.wrap(unb64(f[2]) if len(f) > 2 else b"", f[1] == "1").message))
            elif f[0] == "UNWRAP":
                r = ctx.unwrap(unb64(f[1]))
                say("OK", "1" if r.encrypted else "0", b64(r.message))
            elif f[0] == "UNWRAPIOV":
                bufs = [(gssapi.raw.IOVBufferType.header, False, unb64(f[1])),
                        (gssapi.raw.IOVBufferType.data, False, unb64(f[2]) if len(f) > 2 else b"")]
                if len(f) > 3:
                    bufs.append((gssapi.raw.IOVBufferType.padding, False, unb64(f[3])))
                iov = gssapi.raw.IOV(*bufs, std_layout=False)
                res = gssapi.raw.unwrap_iov(ctx, iov)
                say("OK", "1" if res.encrypted else "0", b64(iov[1].value))
            elif f[0] == "MIC":
                say("OK", b64(ctx.get_signature(unb64(f[1]) if len(f) > 1 else b"")))
            elif f[0] == "VERIFY":
                ctx.verify_signature(unb64(f[1]), unb64(f[2]))
                say("OK")
            elif f[0] == "DELEG":
                name = gssapi.Name(f[1], gssapi.NameType.hostbased_service)
                c2 = gssapi.SecurityContext(name=name, usage="initiate", mech=KRB5, creds=ctx.delegated_creds)
                say("OK", b64(c2.step()))
            else:
                say("ERR", "unknown command")
        except gssapi.exceptions.GSSError as e:
            say("ERR", str(e).replace("\n", " "))


if __name__ == "__main__":
    try:
        main()
    except gssapi.exceptions.GSSError as e:
        say("ERR", str(e).replace("\n", " "))
        sys.exit(1)
