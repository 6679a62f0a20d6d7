package store

// WithMaxValueBytes lowers the largest value a field accepts, in bytes of
// its encoding (a string's or bytes' length, four per list element), from
// the default and ceiling MaxValueBytes (256 KiB). Every write path checks
// it: Write, Ingest and so WriteFeatures and IngestArrow. 0 keeps the
// default; New refuses anything outside 0..MaxValueBytes. Values already
// stored stay readable when the limit is lowered.
func (o Options) WithMaxValueBytes(n int) Options { o.maxValueBytes = n; return o }

// checkLimits refuses options whose limits are out of range.
func (o Options) checkLimits() error {
	if o.maxValueBytes < 0 || o.maxValueBytes > MaxValueBytes {
		return errorf(KindInvalid, "max value bytes %d: give 1 to %d, or 0 for the default", o.maxValueBytes, MaxValueBytes)
	}
	return nil
}

// checkValueBytes refuses a checked value of f whose encoding is longer
// than max bytes. Fixed-size types (8 or 12 bytes, a bool's 1) always fit.
func checkValueBytes(f *Field, v any, max int) error {
	var n int
	switch x := v.(type) {
	case string:
		n = len(x)
	case []byte:
		n = len(x)
	case []float32:
		n = 4 * len(x)
	}
	if n > max {
		return errorf(KindInvalid, "field %q: value of %d bytes exceeds this store's limit of %d bytes per value", f.Name, n, max)
	}
	return nil
}
