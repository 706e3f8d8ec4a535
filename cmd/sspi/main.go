// Command sspi exercises the gosspi emulation of the Windows SSPI from the
// command line.
//
// Usage:
//
//	sspi <command> [options]
//
// The commands are:
//
//	packages   list the security packages, as EnumerateSecurityPackagesW reports them
//	demo       run each package that works locally: client against server in process
//	decode     print the structure of an NTLM, SPNEGO, Kerberos or Digest token
//	get        fetch a URL with Negotiate, Kerberos, NTLM or Digest authentication
//	serve      run a test HTTP server that requires a chosen scheme
//	kdc        run a Kerberos KDC for tests on 127.0.0.1
//	klist      list the Kerberos credential cache the library would use
//	whoami     explain which credentials, realm and KDCs Kerberos uses, or why not
//	help       show the help of a command
//
// Run "sspi help <command>" for the options of a command.
package main

import (
	"fmt"
	"io"
	"os"
)

// command is one subcommand. Each lives in its own file and adds itself to
// commands below.
type command struct {
	name    string
	summary string                                            // one line for the command list
	usage   string                                            // full help text
	run     func(args []string, stdout, stderr io.Writer) int // exit status
}

// commands lists the subcommands in the order "sspi help" shows them.
var commands = []*command{
	packagesCommand,
	demoCommand,
	decodeCommand,
	getCommand,
	serveCommand,
	kdcCommand,
	klistCommand,
	whoamiCommand,
}

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and something failed
	exitUsage   = 2 // bad command line
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches args to a subcommand and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 {
			usage(stdout)
			return exitOK
		}
		if c := lookup(rest[0]); c != nil {
			fmt.Fprint(stdout, c.usage)
			return exitOK
		}
		fmt.Fprintf(stderr, "sspi: unknown help topic %q. Run 'sspi help'.\n", rest[0])
		return exitUsage
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(stderr, "sspi: unknown command %q\nRun 'sspi help' for usage.\n", name)
		return exitUsage
	}
	return c.run(rest, stdout, stderr)
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprint(w, `sspi exercises the Windows SSPI emulated in Go (github.com/gosspi/sspi).

Usage:
  sspi <command> [options]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'sspi help <command>' for the options of a command.
`)
}
