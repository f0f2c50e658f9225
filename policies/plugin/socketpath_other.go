//go:build !linux

package plugin

// maxSocketPath is the longest Unix socket path that works on every other system: macOS and
// the BSDs hold 104 bytes in a sockaddr_un, including the terminating NUL.
const maxSocketPath = 103
