package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/featurevault/featurevault/arrowio"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

// historyChunkRows is the most entity rows answered per output batch.
const historyChunkRows = 8192

// historyView is one view of a point-in-time join: what the request asked
// of it and what policy allows.
type historyView struct {
	view    store.View
	entity  store.Entity
	allowed []string // fields, request order
	denied  []string
	columns []arrow.Field // output columns, one per allowed field
	keyCol  int           // entity-row column holding this view's entity key
	keys    *arrowio.KeyReader
	rows    int64
	found   int64
}

// GetHistoricalFeatures answers a point-in-time join: the entity rows come
// in as Arrow IPC; every input column is passed through and, per requested
// feature, a column holds the value of the latest row of its view at or
// before the entity row's timestamp and within the view's TTL (null when
// there is none). Entity rows are answered in chunks of up to 8,192, each
// one record batch, in input order.
func (h *arrowHandler) GetHistoricalFeatures(ctx context.Context, req *connect.Request[fvv1.GetHistoricalFeaturesRequest], stream *connect.ServerStream[fvv1.GetHistoricalFeaturesResponse]) error {
	var views []*historyView
	err := h.getHistorical(ctx, req, stream, &views)
	for _, hv := range views {
		a := access{Procedure: req.Spec().Procedure, View: hv.view.Name, Action: actionRead,
			Allowed: hv.allowed, Denied: hv.denied, Rows: hv.found, Entities: hv.rows, Err: err}
		if rerr := h.record(ctx, req.Header(), a); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

func (h *arrowHandler) getHistorical(ctx context.Context, req *connect.Request[fvv1.GetHistoricalFeaturesRequest], stream *connect.ServerStream[fvv1.GetHistoricalFeaturesResponse], out *[]*historyView) error {
	m := req.Msg
	proc := req.Spec().Procedure
	views, err := h.historyViews(ctx, req)
	*out = views
	if err != nil {
		return err
	}
	cutoff, err := optionalTime("created_cutoff", m.CreatedCutoff)
	if err != nil {
		return err
	}
	if len(m.EntityRows) == 0 {
		return invalid(errors.New("entity_rows is empty; send the entity rows as an Arrow IPC stream with the entity key and event_timestamp columns"))
	}
	rd, err := arrowio.NewStreamReader(bytes.NewReader(m.EntityRows), arrowMem, h.maxBatchBytes)
	if err != nil {
		return streamError(err, "entity_rows is not an Arrow IPC stream")
	}
	defer rd.Release()
	in := rd.Schema()
	tsName := m.TimestampColumn
	if tsName == "" {
		tsName = arrowio.EventTimeColumn
	}
	outSchema, times, err := historySchema(in, tsName, views, m.FullFeatureNames)
	if err != nil {
		return err
	}
	schemaMsg, err := arrowio.SchemaMessage(outSchema, arrowMem)
	if err != nil {
		return toConnect(h.log, proc, err)
	}
	var denied []string
	for _, hv := range views {
		for _, f := range hv.denied {
			denied = append(denied, hv.view.Name+":"+f)
		}
	}
	if err := stream.Send(&fvv1.GetHistoricalFeaturesResponse{ArrowIpc: schemaMsg, DeniedFeatures: denied}); err != nil {
		return err
	}
	var buf []byte
	for rd.Next() {
		rec := rd.RecordBatch()
		for lo := int64(0); lo < rec.NumRows(); lo += historyChunkRows {
			chunk := rec.NewSlice(lo, min(lo+historyChunkRows, rec.NumRows()))
			res, err := h.answerChunk(ctx, chunk, outSchema, views, times, tsName, cutoff)
			chunk.Release()
			if err != nil {
				return toConnect(h.log, proc, err)
			}
			buf, err = arrowio.BatchMessage(buf[:0], res, arrowMem)
			rows := res.NumRows()
			res.Release()
			if err != nil {
				return toConnect(h.log, proc, err)
			}
			if err := stream.Send(&fvv1.GetHistoricalFeaturesResponse{ArrowIpc: buf, Rows: rows}); err != nil {
				return err
			}
		}
	}
	if err := rd.Err(); err != nil {
		return streamError(err, "entity_rows")
	}
	return stream.Send(&fvv1.GetHistoricalFeaturesResponse{ArrowIpc: arrowio.EndOfStream})
}

// historyViews parses the feature references, groups them by view (in
// order of first mention) and asks policy about each view's fields.
func (h *arrowHandler) historyViews(ctx context.Context, req *connect.Request[fvv1.GetHistoricalFeaturesRequest]) ([]*historyView, error) {
	m := req.Msg
	if len(m.Features) == 0 {
		return nil, invalid(errors.New("no features requested; name them as view:field, or view:* for every field of a view"))
	}
	byName := map[string]*historyView{}
	var views []*historyView
	requested := map[*historyView][]string{}
	for _, ref := range m.Features {
		vn, fn, ok := strings.Cut(ref, ":")
		if !ok || vn == "" || fn == "" {
			return nil, invalid(fmt.Errorf("feature %q is not a reference of the form view:field (or view:*); write it like customer_profile:income", ref))
		}
		hv := byName[vn]
		if hv == nil {
			v, err := h.store.View(vn)
			if err != nil {
				return nil, toConnect(h.log, req.Spec().Procedure, err)
			}
			e, err := h.store.Entity(v.Entity)
			if err != nil {
				return nil, toConnect(h.log, req.Spec().Procedure, err)
			}
			hv = &historyView{view: v, entity: e}
			byName[vn] = hv
			views = append(views, hv)
		}
		if fn == "*" {
			for _, f := range hv.view.Fields {
				requested[hv] = append(requested[hv], f.Name)
			}
			continue
		}
		if _, _, ok := hv.view.Field(fn); !ok {
			return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("view %q has no field %q", vn, fn))
		}
		requested[hv] = append(requested[hv], fn)
	}
	for _, hv := range views {
		var err error
		hv.allowed, hv.denied, err = h.columns(ctx, req.Header(), hv.view.Name, actionRead, dedupe(requested[hv]))
		if err != nil {
			return views, err
		}
	}
	return views, nil
}

// historySchema checks the entity rows' schema against the views and
// returns the output schema: every input column, then one column per
// allowed feature.
func historySchema(in *arrow.Schema, tsName string, views []*historyView, full bool) (*arrow.Schema, *arrowio.TimeReader, error) {
	tsIdx := in.FieldIndices(tsName)
	if len(tsIdx) != 1 {
		return nil, nil, invalid(fmt.Errorf("entity_rows has no %q column (or more than one): each entity row needs the timestamp to look features up at", tsName))
	}
	times, err := arrowio.NewTimeReader(in.Field(tsIdx[0]))
	if err != nil {
		return nil, nil, invalid(err)
	}
	cols := append([]arrow.Field(nil), in.Fields()...)
	names := map[string]string{}
	for _, f := range in.Fields() {
		names[f.Name] = "an entity_rows column"
	}
	for _, hv := range views {
		idx := in.FieldIndices(hv.entity.JoinKey)
		if len(idx) != 1 {
			return nil, nil, invalid(fmt.Errorf("entity_rows has no %q column (or more than one), the key of entity %q that view %q describes", hv.entity.JoinKey, hv.entity.Name, hv.view.Name))
		}
		hv.keyCol = idx[0]
		if hv.keys, err = arrowio.NewKeyReader(in.Field(idx[0]), hv.entity); err != nil {
			return nil, nil, invalid(err)
		}
		for _, name := range hv.allowed {
			f, _, _ := hv.view.Field(name)
			col := arrowio.FieldColumn(f)
			if full {
				col.Name = hv.view.Name + "__" + f.Name
			}
			if other, dup := names[col.Name]; dup {
				return nil, nil, invalid(fmt.Errorf("output column %q would appear twice (feature of view %q and %s); set full_feature_names to name features view__field", col.Name, hv.view.Name, other))
			}
			names[col.Name] = fmt.Sprintf("a feature of view %q", hv.view.Name)
			hv.columns = append(hv.columns, col)
			cols = append(cols, col)
		}
	}
	md := in.Metadata()
	return arrow.NewSchema(cols, &md), times, nil
}

// answerChunk looks up one chunk of entity rows in every view and returns
// the output record batch: the chunk's columns and the feature columns.
func (h *arrowHandler) answerChunk(ctx context.Context, chunk arrow.RecordBatch, schema *arrow.Schema, views []*historyView, times *arrowio.TimeReader, tsName string, cutoff time.Time) (arrow.RecordBatch, error) {
	n := int(chunk.NumRows())
	at, atOK := times.Read(chunk.Column(chunk.Schema().FieldIndices(tsName)[0]), make([]time.Time, 0, n), make([]bool, 0, n))
	cols := append([]arrow.Array(nil), chunk.Columns()...)
	var built []arrow.Array
	defer func() {
		for _, a := range built {
			a.Release()
		}
	}()
	for _, hv := range views {
		keys, keyOK := hv.keys.Read(chunk.Column(hv.keyCol), make([]string, 0, n), make([]bool, 0, n))
		// Look up only rows with a key and a timestamp; the others get nulls.
		var lk []string
		var lt []time.Time
		rows := make([]int, n)
		for i := range n {
			if !keyOK[i] || !atOK[i] {
				rows[i] = -1
				continue
			}
			rows[i] = len(lk)
			lk = append(lk, keys[i])
			lt = append(lt, at[i])
		}
		b, err := h.store.GetHistorical(ctx, hv.view.Name, lk, lt, store.HistoricalOptions{Features: hv.allowed, CreatedCutoff: cutoff})
		if err != nil {
			return nil, err
		}
		hv.rows += int64(len(lk))
		for i := range n {
			if r := rows[i]; r >= 0 && b.Found(r) {
				hv.found++
			}
		}
		for j, col := range hv.columns {
			bldr := array.NewBuilder(arrowMem, col.Type)
			err := arrowio.AppendColumnRows(bldr, b, j, rows)
			arr := bldr.NewArray()
			bldr.Release()
			built = append(built, arr)
			if err != nil {
				return nil, err
			}
			cols = append(cols, arr)
		}
	}
	return array.NewRecordBatch(schema, cols, int64(n)), nil
}

func dedupe(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := names[:0:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
