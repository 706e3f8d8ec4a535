package adtest

import "testing"

func TestSmoke(t *testing.T) {
	dc := Require(t)
	out, err := dc.SambaTool("user", "show", "alice", "--attributes=objectSid,userPrincipalName,memberOf")
	t.Log(out, err)
	out, err = dc.SambaTool("user", "show", "DC1$", "--attributes=servicePrincipalName")
	t.Log(out, err)
	t.Log(dc.LogTail(20))
}
