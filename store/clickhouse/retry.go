package clickhouse

import (
	"context"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// retryConn asks a read again once when the server hit ClickHouse's
// "Unexpected packet Data received from client" (code 101): a bug of
// Distributed reads before 20.12 (ClickHouse PR 17254): when a LIMIT is
// reached the initiator cancels the other shards' queries, and a shard
// that gets the cancel before the (always sent) end-of-external-data
// packet fails. Point reads therefore use LIMIT 1 BY, which never
// cancels; reads with a user's limit (history) may still meet it, and the
// query itself was fine, so asking again is correct. Reads only: a write
// may have partly happened.
type retryConn struct {
	driver.Conn
}

func transientRead(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Unexpected packet Data received from client")
}

func (c retryConn) Query(ctx context.Context, q string, args ...any) (driver.Rows, error) {
	rows, err := c.Conn.Query(ctx, q, args...)
	retried := transientRead(err)
	if retried {
		rows, err = c.Conn.Query(ctx, q, args...)
	}
	if err != nil {
		return nil, err
	}
	return &retryRows{Rows: rows, c: c.Conn, ctx: ctx, q: q, args: args, retried: retried}, nil
}

// retryRows asks again when the error comes with the answer instead of
// before it, as long as no row has been handed out yet.
type retryRows struct {
	driver.Rows
	c       driver.Conn
	ctx     context.Context
	q       string
	args    []any
	started bool
	retried bool
	err     error
}

func (r *retryRows) Next() bool {
	if r.Rows.Next() {
		r.started = true
		return true
	}
	if r.started || r.retried || !transientRead(r.Rows.Err()) {
		return false
	}
	r.retried = true
	r.Rows.Close()
	rows, err := r.c.Query(r.ctx, r.q, r.args...)
	if err != nil {
		r.err = err
		return false
	}
	r.Rows = rows
	return r.Next()
}

func (r *retryRows) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.Rows.Err()
}

func (c retryConn) QueryRow(ctx context.Context, q string, args ...any) driver.Row {
	return retryRow{ctx: ctx, c: c.Conn, q: q, args: args, row: c.Conn.QueryRow(ctx, q, args...)}
}

type retryRow struct {
	ctx  context.Context
	c    driver.Conn
	q    string
	args []any
	row  driver.Row
}

func (r retryRow) Err() error { return r.row.Err() }

func (r retryRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if transientRead(err) {
		err = r.c.QueryRow(r.ctx, r.q, r.args...).Scan(dest...)
	}
	return err
}

func (r retryRow) ScanStruct(dest any) error {
	err := r.row.ScanStruct(dest)
	if transientRead(err) {
		err = r.c.QueryRow(r.ctx, r.q, r.args...).ScanStruct(dest)
	}
	return err
}
