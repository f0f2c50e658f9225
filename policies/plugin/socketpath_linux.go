package plugin

// maxSocketPath is the longest Unix socket path: a sockaddr_un holds 108 bytes on Linux,
// including the terminating NUL.
const maxSocketPath = 107
