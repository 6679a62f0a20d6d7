package online

// CrashAfterCommit makes every later commit of rows stop before its copy to
// Redis, as a process killed between the two would (tests only).
func CrashAfterCommit(t *Tier, on bool) { t.crashAfterCommit.Store(on) }
