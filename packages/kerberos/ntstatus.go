package kerberos

import (
	"encoding/asn1"
	"encoding/binary"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/types"
)

// An Active Directory KDC says why it refused a logon with an NTSTATUS in
// the KRB-ERROR's e-data (MS-KILE 2.2.1 KERB-EXT-ERROR, 3.3.5.x): either
// as KERB-ERROR-DATA of type KERB_ERR_TYPE_EXTENDED (3), or as the
// padata-value of a PA-PW-SALT (3) in METHOD-DATA. The SSPI status stays
// what Windows returns (SEC_E_LOGON_DENIED for a disabled, locked-out or
// expired account, as for a wrong password); the NTSTATUS names the cause
// in the error text, as Windows' event log does.

// ntStatusNames are the NTSTATUS codes an AD KDC reports for refused
// logons.
var ntStatusNames = map[uint32]string{
	0xC000006A: "STATUS_WRONG_PASSWORD",
	0xC000006D: "STATUS_LOGON_FAILURE",
	0xC000006E: "STATUS_ACCOUNT_RESTRICTION",
	0xC000006F: "STATUS_INVALID_LOGON_HOURS",
	0xC0000070: "STATUS_INVALID_WORKSTATION",
	0xC0000071: "STATUS_PASSWORD_EXPIRED",
	0xC0000072: "STATUS_ACCOUNT_DISABLED",
	0xC0000064: "STATUS_NO_SUCH_USER",
	0xC0000193: "STATUS_ACCOUNT_EXPIRED",
	0xC0000224: "STATUS_PASSWORD_MUST_CHANGE",
	0xC0000234: "STATUS_ACCOUNT_LOCKED_OUT",
	0xC0000133: "STATUS_TIME_DIFFERENCE_AT_DC",
}

// kerbErrorData is KERB-ERROR-DATA of MS-KILE 2.2.1.
type kerbErrorData struct {
	DataType  int32  `asn1:"explicit,tag:1"`
	DataValue []byte `asn1:"optional,explicit,tag:2"`
}

// maxEData caps the e-data looked into.
const maxEData = 4096

// edataNTStatus returns the NTSTATUS an AD KDC put in a KRB-ERROR's
// e-data, if any.
func edataNTStatus(edata []byte) (uint32, bool) {
	if len(edata) == 0 || len(edata) > maxEData {
		return 0, false
	}
	var ked kerbErrorData
	if rest, err := asn1.Unmarshal(edata, &ked); err == nil && len(rest) == 0 && ked.DataType == 3 && len(ked.DataValue) >= 4 {
		return binary.LittleEndian.Uint32(ked.DataValue), true
	}
	var pas types.PADataSequence
	if err := pas.Unmarshal(edata); err == nil {
		for _, pa := range pas {
			if pa.PADataType == 3 && len(pa.PADataValue) == 12 { // PA-PW-SALT holding KERB-EXT-ERROR
				return binary.LittleEndian.Uint32(pa.PADataValue), true
			}
		}
	}
	return 0, false
}

// ntStatusText names code.
func ntStatusText(code uint32) string {
	if n, ok := ntStatusNames[code]; ok {
		return fmt.Sprintf("%s (0x%08X)", n, code)
	}
	return fmt.Sprintf("NTSTATUS 0x%08X", code)
}
