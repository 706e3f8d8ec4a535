//go:build !race

package schannel

const raceEnabled = false
