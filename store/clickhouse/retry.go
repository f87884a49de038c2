package clickhouse

import (
	"context"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// retryConn asks a read again once when the server hit ClickHouse's
// "Unexpected packet Data received from client" (code 101): a bug of
// Distributed reads before 20.12 (ClickHouse PR 17254), where a remote
// shard sees a cancelled query's leftover packets under load. The query
// itself was fine, so asking again is correct; reads only, since a write
// may have partly happened.
type retryConn struct {
	driver.Conn
}

func transientRead(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Unexpected packet Data received from client")
}

func (c retryConn) Query(ctx context.Context, q string, args ...any) (driver.Rows, error) {
	rows, err := c.Conn.Query(ctx, q, args...)
	if transientRead(err) {
		rows, err = c.Conn.Query(ctx, q, args...)
	}
	return rows, err
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
