//go:build !unix

package ratelimit_test

import "time"

func processCPUTime() (time.Duration, bool) { return 0, false }
