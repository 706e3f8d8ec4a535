package kerberos

import (
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/status"
)

func extError(code uint32) []byte {
	v := make([]byte, 12)
	binary.LittleEndian.PutUint32(v, code)
	return v
}

// TestKDCErrorNTStatus: the NTSTATUS an AD KDC puts in e-data, in either
// form, names the cause; the SSPI status stays SEC_E_LOGON_DENIED.
func TestKDCErrorNTStatus(t *testing.T) {
	ked, err := asn1.Marshal(kerbErrorData{DataType: 3, DataValue: extError(0xC0000072)})
	if err != nil {
		t.Fatal(err)
	}
	salt, err := asn1.Marshal([]types.PAData{{PADataType: 3, PADataValue: extError(0xC0000234)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		edata []byte
		code  uint32
		name  string
	}{
		{ked, 0xC0000072, "STATUS_ACCOUNT_DISABLED"},
		{salt, 0xC0000234, "STATUS_ACCOUNT_LOCKED_OUT"},
	} {
		e := messages.KRBError{ErrorCode: errorcode.KDC_ERR_CLIENT_REVOKED, EData: tc.edata}
		err := kdcError("InitializeSecurityContext", e)
		if !errors.Is(err, status.SEC_E_LOGON_DENIED) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%v", err)
		}
		var nt interface{ NTStatus() (uint32, bool) }
		if !errors.As(err, &nt) {
			t.Fatal("no NTStatus method")
		}
		if c, ok := nt.NTStatus(); !ok || c != tc.code {
			t.Errorf("NTStatus %#x %v", c, ok)
		}
	}
	if _, ok := edataNTStatus([]byte{0x30, 0x80}); ok {
		t.Error("garbage e-data gave a status")
	}
}
