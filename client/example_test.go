package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/featurevault/featurevault/client"
)

// A training job streams a view and reads the Arrow arrays batch by batch.
func ExampleClient_ReadBatches() {
	c := client.New(nil, "http://127.0.0.1:8433", client.WithToken("TOKEN"), client.WithPurpose("training"))
	r, err := c.ReadBatches(context.Background(), "customer_activity", client.Read{
		Features: []string{"spend_7d", "orders_7d"},
		AsOf:     time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Release()
	var sum float64
	for r.Next() {
		spend := r.RecordBatch().Column(2).(*array.Float64)
		for i := range spend.Len() {
			if spend.IsValid(i) {
				sum += spend.Value(i)
			}
		}
	}
	if err := r.Err(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("total spend_7d:", sum, "withheld:", r.Denied())
}

// A training set is built from labelled entity rows, point in time.
func ExampleClient_GetHistoricalFeatures() {
	c := client.New(nil, "http://127.0.0.1:8433", client.WithToken("TOKEN"), client.WithPurpose("training"))
	var labels array.RecordReader // customer_id, event_timestamp, label: e.g. read from Parquet with arrowio.OpenFile
	r, err := c.GetHistoricalFeatures(context.Background(), labels, client.Historical{
		Features: []string{"customer_activity:spend_7d", "customer_profile:*"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Release()
	for r.Next() {
		fmt.Println(r.RecordBatch().NumRows(), "labelled rows with their features")
	}
}
