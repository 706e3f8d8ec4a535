package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gosspi/sspi/packages/kerberos"
)

const klistUsage = `Usage: sspi klist [-c name] [-C]

List the Kerberos credential cache the library uses, as MIT's klist
does, and say where its name came from: -c, KRB5CCNAME, krb5.conf's
default_ccache_name, or the platform's default (FILE:/tmp/krb5cc_UID;
on macOS the API: cache, which needs Apple's framework and so cannot be
read: set KRB5CCNAME=FILE:...). FILE:, DIR:, KEYRING: and KCM: caches
are read. Session keys are never printed.

Options:
  -c name   the cache to list (default: the one AcquireCredentials uses)
  -C        also list configuration entries (X-CACHECONF:)
`

var klistCommand = &command{
	name:    "klist",
	summary: "list the Kerberos credential cache the library would use",
	usage:   klistUsage,
	run:     runKlist,
}

// ticketFlagLetters are MIT klist's letters for the TicketFlags bits.
var ticketFlagLetters = []struct {
	bit    int
	letter byte
}{
	{1, 'F'}, {2, 'f'}, {3, 'P'}, {4, 'p'}, {5, 'D'}, {6, 'd'}, {7, 'i'},
	{8, 'R'}, {9, 'I'}, {10, 'A'}, {11, 'H'}, {12, 'T'}, {13, 'O'}, {14, 'a'},
}

func flagLetters(f uint32) string {
	var b strings.Builder
	for _, l := range ticketFlagLetters {
		if f&(1<<(31-l.bit)) != 0 {
			b.WriteByte(l.letter)
		}
	}
	return b.String()
}

func klistTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func runKlist(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("klist", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, klistUsage) }
	name := fs.String("c", "", "credential cache name")
	conf := fs.Bool("C", false, "list configuration entries")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sspi klist: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cc, err := kerberos.New(nil).ReadCCache(ctx, *name)
	if err != nil {
		fmt.Fprintf(stderr, "sspi klist: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "Ticket cache: %s (%s)\nDefault principal: %s\n\n", cc.Name, cc.Source, cc.Principal)
	fmt.Fprintf(stdout, "%-19s  %-19s  %-6s %-5s %s\n", "Valid starting", "Expires", "Flags", "Etype", "Service principal")
	for _, e := range cc.Entries {
		if e.Config && !*conf {
			continue
		}
		start := e.StartTime
		if start.IsZero() {
			start = e.AuthTime
		}
		fmt.Fprintf(stdout, "%-19s  %-19s  %-6s %-5d %s\n", klistTime(start), klistTime(e.EndTime), flagLetters(e.Flags), e.EncType, e.Server)
		if !e.RenewTill.IsZero() {
			fmt.Fprintf(stdout, "\trenew until %s\n", klistTime(e.RenewTill))
		}
	}
	return exitOK
}
