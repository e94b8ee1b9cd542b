package slack

import (
	"context"
	"time"
)

// SetPacerClock replaces the pacer's clock and sleep (tests).
func SetPacerClock(p *Pacer, now func() time.Time, sleep func(context.Context, time.Duration) error) {
	p.now, p.sleep = now, sleep
}
