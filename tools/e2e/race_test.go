//go:build race

package e2e

// raceEnabled: the chaos commands are built with the race detector too.
const raceEnabled = true
