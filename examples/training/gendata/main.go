// Command gendata writes the training example's data: activity.csv (200
// customers × 10 days of customer_activity rows) and labels.csv (entity
// rows with a churn label, for the point-in-time join). The output is
// deterministic; the committed files are what it writes.
//
//	go run ./examples/training/gendata -out examples/training
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func main() {
	out := flag.String("out", "examples/training", "directory to write activity.csv and labels.csv to")
	flag.Parse()
	rng := rand.New(rand.NewPCG(42, 4242)) // #nosec G404 -- synthetic example data, seeded to be reproducible
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

	activity := [][]string{{"customer_id", "event_timestamp", "orders_7d", "spend_7d", "days_since_signup", "spend_next_30d"}}
	labels := [][]string{{"customer_id", "event_timestamp", "churned"}}
	for c := range 200 {
		id := fmt.Sprintf("cust-%04d", c)
		signup := 30 + rng.IntN(900)
		for d := range 10 {
			at := start.Add(time.Duration(d) * 24 * time.Hour)
			orders := rng.IntN(8)
			spend := float64(orders)*(20+rng.Float64()*30) + rng.Float64()*5
			// The relation the training example recovers, plus noise.
			next := 2.5*spend + 10*float64(orders) + 0.05*float64(signup+d) + rng.NormFloat64()*8
			row := []string{id, at.Format(time.RFC3339), strconv.Itoa(orders), fmt.Sprintf("%.2f", spend), strconv.Itoa(signup + d), fmt.Sprintf("%.2f", next)}
			if rng.IntN(50) == 0 {
				row[3] = "" // a missing value reads as NULL
			}
			activity = append(activity, row)
		}
		// Two label rows per customer, at times between observations.
		for k := range 2 {
			at := start.Add(time.Duration(3+5*k)*24*time.Hour + 6*time.Hour)
			churned := "0"
			if rng.IntN(5) == 0 {
				churned = "1"
			}
			labels = append(labels, []string{id, at.Format(time.RFC3339), churned})
		}
	}
	// An entity the store never saw, and a time before any observation.
	labels = append(labels, []string{"cust-unknown", start.Add(48 * time.Hour).Format(time.RFC3339), "0"})
	labels = append(labels, []string{"cust-0000", start.Add(-time.Hour).Format(time.RFC3339), "0"})
	write(filepath.Join(*out, "activity.csv"), activity)
	write(filepath.Join(*out, "labels.csv"), labels)
}

func write(path string, rows [][]string) {
	f, err := os.Create(path) // #nosec G304 -- the file named on the example's command line
	if err != nil {
		log.Fatal(err)
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(rows); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
