// Command training is a training job that reads its data from FeatureVault
// as Arrow, the way a data scientist moving from Feast would:
//
//  1. it streams the customer_activity view with ReadBatches and fits a
//     linear model of spend_next_30d on the other features by least
//     squares, accumulating X'X and X'y batch by batch straight from the
//     Arrow arrays (memory stays flat however many rows there are);
//  2. with --labels, it builds a point-in-time-correct training set from
//     labelled entity rows (GetHistoricalFeatures: each label gets the
//     features as they were at its timestamp, never later ones) and
//     summarises the features by label.
//
// See README.md for the commands that set up a server with its data.
package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/client"
)

func main() {
	server := flag.String("server", envOr("FEATUREVAULT_SERVER", "http://127.0.0.1:8433"), "FeatureVault server URL")
	token := flag.String("token", os.Getenv("FEATUREVAULT_TOKEN"), "bearer token (default: $FEATUREVAULT_TOKEN, else ./featurevault-data/admin.token)")
	purpose := flag.String("purpose", "training", "purpose stated to the server")
	view := flag.String("view", "customer_activity", "view to train on")
	target := flag.String("target", "spend_next_30d", "field to predict")
	labels := flag.String("labels", "", "CSV of customer_id,event_timestamp,churned for a point-in-time join")
	flag.Parse()
	if *token == "" {
		if b, err := os.ReadFile("featurevault-data/admin.token"); err == nil {
			*token = string(b)
		}
	}
	c := client.New(nil, *server, client.WithToken(trim(*token)), client.WithPurpose(*purpose))
	ctx := context.Background()
	if err := fit(ctx, c, *view, *target, os.Stdout); err != nil {
		log.Fatal(err)
	}
	if *labels != "" {
		if err := join(ctx, c, *view, *labels, os.Stdout); err != nil {
			log.Fatal(err)
		}
	}
}

// fit streams view and fits target ~ intercept + every other numeric
// field by ordinary least squares.
func fit(ctx context.Context, c *client.Client, view, target string, out io.Writer) error {
	r, err := c.ReadBatches(ctx, view, client.Read{})
	if err != nil {
		return err
	}
	defer r.Release()
	schema := r.Schema()
	var xs []int // column indexes of the features
	y := -1
	for i, f := range schema.Fields() {
		switch {
		case f.Name == target:
			y = i
		case i >= 2 && (f.Type.ID() == arrow.INT64 || f.Type.ID() == arrow.FLOAT64):
			xs = append(xs, i)
		}
	}
	if y < 0 {
		return fmt.Errorf("view %s has no readable field %q", view, target)
	}
	k := len(xs) + 1 // with the intercept
	xtx := make([]float64, k*k)
	xty := make([]float64, k)
	var n, skipped int
	var sy, syy float64
	row := make([]float64, k)
	for r.Next() {
		rec := r.RecordBatch()
		for i := range int(rec.NumRows()) {
			row[0] = 1
			ok := !rec.Column(y).IsNull(i)
			for j, c := range xs {
				v, present := number(rec.Column(c), i)
				ok = ok && present
				row[j+1] = v
			}
			if !ok {
				skipped++
				continue
			}
			yv, _ := number(rec.Column(y), i)
			for a := range k {
				xty[a] += row[a] * yv
				for b := range k {
					xtx[a*k+b] += row[a] * row[b]
				}
			}
			n++
			sy += yv
			syy += yv * yv
		}
	}
	if err := r.Err(); err != nil {
		return err
	}
	beta, err := solve(xtx, xty, k)
	if err != nil {
		return err
	}
	// R² from the accumulated moments: SSE = y'y - 2β'X'y + β'X'Xβ.
	sse := syy
	for a := range k {
		sse -= 2 * beta[a] * xty[a]
		for b := range k {
			sse += beta[a] * xtx[a*k+b] * beta[b]
		}
	}
	sst := syy - sy*sy/float64(n)
	fmt.Fprintf(out, "fitted %s on %d rows of %s (%d skipped for missing values)\n", target, n, view, skipped)
	fmt.Fprintf(out, "  intercept %10.4f\n", beta[0])
	for j, c := range xs {
		fmt.Fprintf(out, "  %-17s %10.4f\n", schema.Field(c).Name, beta[j+1])
	}
	fmt.Fprintf(out, "  R²  %.4f\n", 1-sse/sst)
	if d := r.Denied(); len(d) > 0 {
		fmt.Fprintf(out, "  (policy withheld %v)\n", d)
	}
	return nil
}

// number reads an int64 or float64 value as float64.
func number(a arrow.Array, i int) (float64, bool) {
	if a.IsNull(i) {
		return 0, false
	}
	switch a := a.(type) {
	case *array.Int64:
		return float64(a.Value(i)), true
	case *array.Float64:
		return a.Value(i), true
	}
	return 0, false
}

// solve solves the k×k system A x = b by Gaussian elimination with partial
// pivoting (A is small: one row per feature).
func solve(a, b []float64, k int) ([]float64, error) {
	a, b = append([]float64(nil), a...), append([]float64(nil), b...)
	for col := range k {
		p := col
		for r := col + 1; r < k; r++ {
			if math.Abs(a[r*k+col]) > math.Abs(a[p*k+col]) {
				p = r
			}
		}
		if math.Abs(a[p*k+col]) < 1e-12 {
			return nil, errors.New("the features are collinear or there are too few rows")
		}
		for c := range k {
			a[col*k+c], a[p*k+c] = a[p*k+c], a[col*k+c]
		}
		b[col], b[p] = b[p], b[col]
		for r := col + 1; r < k; r++ {
			f := a[r*k+col] / a[col*k+col]
			for c := col; c < k; c++ {
				a[r*k+c] -= f * a[col*k+c]
			}
			b[r] -= f * b[col]
		}
	}
	x := make([]float64, k)
	for r := k - 1; r >= 0; r-- {
		s := b[r]
		for c := r + 1; c < k; c++ {
			s -= a[r*k+c] * x[c]
		}
		x[r] = s / a[r*k+r]
	}
	return x, nil
}

// join reads labelled entity rows from a CSV file, joins the view's
// features to them point-in-time, and summarises spend_7d by label.
func join(ctx context.Context, c *client.Client, view, path string, out io.Writer) error {
	rows, err := readLabels(path)
	if err != nil {
		return err
	}
	defer rows.Release()
	r, err := c.GetHistoricalFeatures(ctx, rows, client.Historical{Features: []string{view + ":spend_7d", view + ":orders_7d"}})
	if err != nil {
		return err
	}
	defer r.Release()
	type agg struct {
		n, missing int
		spend      float64
	}
	byLabel := map[int64]*agg{}
	for r.Next() {
		rec := r.RecordBatch()
		label := rec.Column(2).(*array.Int64)
		spend := rec.Column(3).(*array.Float64)
		for i := range int(rec.NumRows()) {
			a := byLabel[label.Value(i)]
			if a == nil {
				a = &agg{}
				byLabel[label.Value(i)] = a
			}
			a.n++
			if spend.IsNull(i) {
				a.missing++
				continue
			}
			a.spend += spend.Value(i)
		}
	}
	if err := r.Err(); err != nil {
		return err
	}
	fmt.Fprintf(out, "point-in-time join of %s onto %s:\n", view, path)
	for _, l := range []int64{0, 1} {
		if a := byLabel[l]; a != nil {
			fmt.Fprintf(out, "  churned=%d: %d rows, mean spend_7d %.2f, %d without features at their time\n", l, a.n, a.spend/float64(max(1, a.n-a.missing)), a.missing)
		}
	}
	return nil
}

// readLabels reads customer_id,event_timestamp,churned into Arrow.
func readLabels(path string) (array.RecordReader, error) {
	f, err := os.Open(path) // #nosec G304 -- the file named on the example's command line
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}},
		{Name: "churned", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i, rec := range recs[1:] {
		at, err := time.Parse(time.RFC3339, rec[1])
		if err != nil {
			return nil, fmt.Errorf("%s line %d: event_timestamp is not RFC 3339", path, i+2)
		}
		label, err := strconv.ParseInt(rec[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: churned is not 0 or 1", path, i+2)
		}
		b.Field(0).(*array.StringBuilder).Append(rec[0])
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixNano()))
		b.Field(2).(*array.Int64Builder).Append(label)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewRecordReader(schema, []arrow.RecordBatch{rec})
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func trim(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}
