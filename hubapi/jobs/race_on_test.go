//go:build race

package jobs_test

// raceDetector: the race detector slows the database paths about tenfold;
// scale tests shrink under it (their figures are measured without it).
const raceDetector = true
