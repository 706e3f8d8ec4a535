package packages

import "context"

// NetworkSchedulerKey is the context key under which a scheduler that runs
// SSPI calls (the root's async engine) gives its [NetworkScheduler] to
// the code of the call.
type NetworkSchedulerKey struct{}

// NetworkScheduler is implemented by a scheduler that limits how many
// calls use the CPU and how many wait on the network at once.
type NetworkScheduler interface {
	// NetworkBound moves the running call from the CPU to the network
	// allowance until done is called.
	NetworkBound() (done func())
}

// NetworkBound is called by a package just before it waits on the network
// (Kerberos before a KDC exchange), with the call's context, and done when
// the wait is over. Under a scheduler that has a network allowance (the
// async engine) the call gives its CPU slot back meanwhile, so calls
// stuck on a slow KDC never starve local work; elsewhere it does nothing.
// Providers use this, not the scheduler, so that they depend only on this
// contract.
func NetworkBound(ctx context.Context) (done func()) {
	if s, ok := ctx.Value(NetworkSchedulerKey{}).(NetworkScheduler); ok {
		return s.NetworkBound()
	}
	return func() {}
}
