package secbuffer

// Buffer returns cb as the SECBUFFER_CHANNEL_BINDINGS input buffer that
// InitializeSecurityContext and AcceptSecurityContext take: its Data is
// [ChannelBindings.Marshal], a new slice the caller owns.
func (cb *ChannelBindings) Buffer() Buffer {
	return Buffer{Type: SECBUFFER_CHANNEL_BINDINGS, Data: cb.Marshal()}
}
