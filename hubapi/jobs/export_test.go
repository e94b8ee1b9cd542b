package jobs

// Quick makes River skip its start-up staggering.
func Quick(c *Config) { c.testOnly = true }
