package packages

// PAC is what an acceptor decoded from the Privilege Attribute Certificate
// (MS-PAC) of a client's Kerberos ticket, once its server signature was
// checked. It is plain data, so that any Kerberos package can produce it
// (its acceptor contexts implement [PACContext]) and a caller depends on
// no package's types.
type PAC struct {
	// UserSID is the logon domain SID and the user RID, when the PAC has
	// logon info.
	UserSID string
	// GroupSIDs are the group membership SIDs: the logon domain's groups,
	// the extra SIDs and the resource groups.
	GroupSIDs []string
	// ClientName is PAC_CLIENT_INFO's name.
	ClientName string
	// LogonInfo is KERB_VALIDATION_INFO (MS-PAC 2.5); nil when the KDC
	// sent none, as MIT's KDC does without a plugin.
	LogonInfo *LogonInfo
	// UPNDNSInfo is UPN_DNS_INFO (MS-PAC 2.10); nil when the KDC sent
	// none, as MIT's KDC does.
	UPNDNSInfo *UPNDNSInfo
	// Buffers are all the PAC's buffers, as the ticket carried them.
	Buffers []PACBuffer
}

// PACBuffer is one buffer of a PAC: its ulType (MS-PAC 2.4) and bytes.
type PACBuffer struct {
	Type uint32
	Data []byte
}

// LogonInfo is the part of KERB_VALIDATION_INFO (MS-PAC 2.5) that
// authorization decisions use.
type LogonInfo struct {
	EffectiveName   string // the account (sAMAccountName)
	FullName        string
	LogonServer     string
	LogonDomainName string // the NetBIOS domain name
	LogonDomainSID  string // "S-1-5-21-..."
	UserID          uint32 // the user's RID in the logon domain
	PrimaryGroupID  uint32 // a RID in the logon domain (513: Domain Users)
	GroupIDs        []uint32
	ExtraSIDs       []string
	// ResourceGroupDomainSID and ResourceGroupIDs are the resource groups
	// of the service's domain, if any.
	ResourceGroupDomainSID string
	ResourceGroupIDs       []uint32
	UserFlags              uint32
	UserAccountControl     uint32
	LogonCount             uint16
	BadPasswordCount       uint16
}

// UPNDNSInfo is the UPN_DNS_INFO buffer of a PAC (MS-PAC 2.10): the
// client's user principal name and the DNS name of its domain, and, in
// the extended form that Windows Server 2022 and the November 2021
// updates write (Flags has [UPNDNSInfoExtended]), the account's SAM name
// and SID.
type UPNDNSInfo struct {
	UPN           string // userPrincipalName, or one built from the SAM name and DNS domain (UPNDNSInfoConstructed)
	DNSDomainName string // the DNS name of the account's domain
	Flags         uint32 // UPNDNSInfoConstructed, UPNDNSInfoExtended; other bits are ignored
	SAMName       string // sAMAccountName, when Extended
	SID           string // the account's SID ("S-1-5-21-..."), when Extended
}

// UPN_DNS_INFO flags (MS-PAC 2.10).
const (
	// UPNDNSInfoConstructed is the U bit: the account has no
	// userPrincipalName, and UPN is the SAM name @ the DNS domain name.
	UPNDNSInfoConstructed uint32 = 0x1
	// UPNDNSInfoExtended is the S bit: the SAM name and SID follow.
	UPNDNSInfoExtended uint32 = 0x2
)

// Extended reports whether the buffer carries the SAM name and SID (the S
// flag).
func (u *UPNDNSInfo) Extended() bool { return u.Flags&UPNDNSInfoExtended != 0 }

// PACContext is implemented by acceptor contexts that decode PACs: PAC
// returns the decoded PAC of the client's ticket, or nil.
type PACContext interface {
	PAC() *PAC
}
