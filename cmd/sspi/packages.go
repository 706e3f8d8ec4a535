package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unsafe"

	"github.com/gosspi/sspi"
)

const packagesUsage = `Usage: sspi packages [-l]

List the security packages of the default registry as
EnumerateSecurityPackagesW reports them: name, comment, capabilities
(SECPKG_FLAG_* bits), version, DCE RPC id and the largest token
(cbMaxToken).

Options:
  -l    also decode the capability bits into SECPKG_FLAG_* names
`

var packagesCommand = &command{
	name:    "packages",
	summary: "list the security packages (EnumerateSecurityPackagesW)",
	usage:   packagesUsage,
	run:     runPackages,
}

func runPackages(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("packages", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, packagesUsage) }
	long := fs.Bool("l", false, "decode capability bits")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sspi packages: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}

	var n uint32
	var first *sspi.SecPkgInfoW
	if st := sspi.EnumerateSecurityPackagesW(&n, &first); st != sspi.SEC_E_OK {
		fmt.Fprintf(stderr, "sspi packages: EnumerateSecurityPackagesW: %v\n", st)
		return exitFailure
	}
	defer sspi.FreeContextBuffer(first)
	infos := unsafe.Slice(first, n)

	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCOMMENT\tCAPABILITIES\tVERSION\tRPCID\tMAX TOKEN")
	for _, p := range infos {
		fmt.Fprintf(tw, "%s\t%s\t0x%08X\t%d\t%s\t%d\n",
			sspi.UTF16PtrToString(p.Name), sspi.UTF16PtrToString(p.Comment),
			p.Capabilities, p.Version, rpcID(p.RPCID), p.MaxToken)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintf(stderr, "sspi packages: %v\n", err)
		return exitFailure
	}
	if *long {
		for _, p := range infos {
			fmt.Fprintf(stdout, "\n%s:\n  %s\n", sspi.UTF16PtrToString(p.Name), strings.Join(capabilityNames(p.Capabilities), "\n  "))
		}
	}
	return exitOK
}

// rpcID formats wRPCID, naming SECPKG_ID_NONE.
func rpcID(id uint16) string {
	if id == sspi.SECPKG_ID_NONE {
		return "none"
	}
	return fmt.Sprint(id)
}

// capabilityFlags names the SECPKG_FLAG_* bits (sspi.h).
var capabilityFlags = []struct {
	bit  uint32
	name string
}{
	{sspi.SECPKG_FLAG_INTEGRITY, "SECPKG_FLAG_INTEGRITY"},
	{sspi.SECPKG_FLAG_PRIVACY, "SECPKG_FLAG_PRIVACY"},
	{sspi.SECPKG_FLAG_TOKEN_ONLY, "SECPKG_FLAG_TOKEN_ONLY"},
	{sspi.SECPKG_FLAG_DATAGRAM, "SECPKG_FLAG_DATAGRAM"},
	{sspi.SECPKG_FLAG_CONNECTION, "SECPKG_FLAG_CONNECTION"},
	{sspi.SECPKG_FLAG_MULTI_REQUIRED, "SECPKG_FLAG_MULTI_REQUIRED"},
	{sspi.SECPKG_FLAG_CLIENT_ONLY, "SECPKG_FLAG_CLIENT_ONLY"},
	{sspi.SECPKG_FLAG_EXTENDED_ERROR, "SECPKG_FLAG_EXTENDED_ERROR"},
	{sspi.SECPKG_FLAG_IMPERSONATION, "SECPKG_FLAG_IMPERSONATION"},
	{sspi.SECPKG_FLAG_ACCEPT_WIN32_NAME, "SECPKG_FLAG_ACCEPT_WIN32_NAME"},
	{sspi.SECPKG_FLAG_STREAM, "SECPKG_FLAG_STREAM"},
	{sspi.SECPKG_FLAG_NEGOTIABLE, "SECPKG_FLAG_NEGOTIABLE"},
	{sspi.SECPKG_FLAG_GSS_COMPATIBLE, "SECPKG_FLAG_GSS_COMPATIBLE"},
	{sspi.SECPKG_FLAG_LOGON, "SECPKG_FLAG_LOGON"},
	{sspi.SECPKG_FLAG_ASCII_BUFFERS, "SECPKG_FLAG_ASCII_BUFFERS"},
	{sspi.SECPKG_FLAG_FRAGMENT, "SECPKG_FLAG_FRAGMENT"},
	{sspi.SECPKG_FLAG_MUTUAL_AUTH, "SECPKG_FLAG_MUTUAL_AUTH"},
	{sspi.SECPKG_FLAG_DELEGATION, "SECPKG_FLAG_DELEGATION"},
	{sspi.SECPKG_FLAG_READONLY_WITH_CHECKSUM, "SECPKG_FLAG_READONLY_WITH_CHECKSUM"},
	{sspi.SECPKG_FLAG_RESTRICTED_TOKENS, "SECPKG_FLAG_RESTRICTED_TOKENS"},
	{sspi.SECPKG_FLAG_NEGO_EXTENDER, "SECPKG_FLAG_NEGO_EXTENDER"},
	{sspi.SECPKG_FLAG_NEGOTIABLE2, "SECPKG_FLAG_NEGOTIABLE2"},
	{sspi.SECPKG_FLAG_APPCONTAINER_PASSTHROUGH, "SECPKG_FLAG_APPCONTAINER_PASSTHROUGH"},
	{sspi.SECPKG_FLAG_APPCONTAINER_CHECKS, "SECPKG_FLAG_APPCONTAINER_CHECKS"},
	{sspi.SECPKG_FLAG_CREDENTIAL_ISOLATION_ENABLED, "SECPKG_FLAG_CREDENTIAL_ISOLATION_ENABLED"},
	{sspi.SECPKG_FLAG_APPLY_LOOPBACK, "SECPKG_FLAG_APPLY_LOOPBACK"},
}

// capabilityNames returns the names of the bits set in caps, and the hex
// value of any bits without a name.
func capabilityNames(caps uint32) []string {
	var names []string
	for _, f := range capabilityFlags {
		if caps&f.bit != 0 {
			names = append(names, f.name)
			caps &^= f.bit
		}
	}
	if caps != 0 {
		names = append(names, fmt.Sprintf("0x%08X", caps))
	}
	return names
}
