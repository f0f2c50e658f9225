//go:build !unix

package realtimetest

import "os"

// Without flock the tests are not serialized.
func lock(*os.File) error   { return nil }
func unlock(*os.File) error { return nil }
