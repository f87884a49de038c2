// Package clickhouse is fundtrace's store for scale: the same content and
// lookups as store/embedded, in ClickHouse tables whose sort keys serve
// the tracer's lookups, written through clickhouse-go's native protocol.
//
// # Consistency without transactions
//
// ClickHouse has no multi-table transactions, so a write of blocks inserts
// the data rows of every table first and the chain's meta row last: the
// meta row is the commit marker. Rows above the committed tip are left-
// overs of an interrupted write; they are deleted (and the deletion waited
// for) before the next write and on open, and readers never look above
// the tip. A write that fails is retried with backoff from a clean tip, so
// a server restart mid-ingest neither loses nor duplicates rows.
package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// Options configures Open.
type Options struct {
	// Cluster, when set, creates tables ON CLUSTER as per-shard MergeTree
	// tables plus Distributed tables, and reads and writes through the
	// Distributed ones. The cluster must exist in the servers'
	// remote_servers, with ZooKeeper or ClickHouse Keeper for ON CLUSTER DDL.
	Cluster string
	// Logger receives retries and recoveries. Nil discards.
	Logger *slog.Logger
	// Retries bounds the attempts of one write when the server fails
	// (default 6, backing off from 500 ms to 16 s: about half a minute,
	// enough for a server restart).
	Retries int
	// Writers bounds the tables inserted into in parallel (default 6, one
	// per data table).
	Writers int
}

// Store implements the whole store contract: a method missing or
// spelled differently fails the build, not a command.
var _ store.Store = (*Store)(nil)

// Store is a ClickHouse store. It is safe for concurrent use; writes are
// serialised.
type Store struct {
	conn driver.Conn
	topo topology
	addr string
	log  *slog.Logger
	opts Options

	mu    sync.Mutex // serialises writes, guards meta
	meta  map[chains.Chain]store.Meta
	seq   map[chains.Chain]uint64
	dirty map[chains.Chain]bool // rows above the tip may exist

	// countShare is the share of the history a batch's count of its new
	// addresses may read before the count is left to the run's end
	// (countLater); tests move it to take either way.
	countShare float64
}

// Open connects to the server named by uri, clickhouse://[user[:pass]@]host:port/db
// (further addresses as ?hosts=h2:port,...; any clickhouse-go DSN option
// is passed on), creates the database and applies migrations on first use,
// and rolls back rows left above the tip by an interrupted write.
func Open(ctx context.Context, uri string, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Retries <= 0 {
		o.Retries = 6
	}
	if o.Writers <= 0 {
		o.Writers = len(dataTables)
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "clickhouse" || u.Host == "" {
		return nil, fmt.Errorf("store %q: want clickhouse://host:port/database", uri)
	}
	db := strings.Trim(u.Path, "/")
	if db == "" {
		db = "fundtrace"
	}
	q := u.Query()
	if c := q.Get("cluster"); c != "" && o.Cluster == "" {
		o.Cluster = c
	}
	q.Del("cluster")
	// protocol=http speaks ClickHouse's HTTP interface (port 8123) in
	// place of its native one (9000), for a server that offers only it.
	switch p := q.Get("protocol"); p {
	case "", "native":
	case "http":
		u.Scheme = "http"
	default:
		return nil, fmt.Errorf("store %q: protocol %q: want native or http", uri, p)
	}
	q.Del("protocol")
	u.RawQuery = q.Encode()
	u.Path = "/default" // connect to the default database: ours may not exist yet
	opt, err := ch.ParseDSN(u.String())
	if err != nil {
		return nil, fmt.Errorf("store %q: %w", uri, err)
	}
	if opt.DialTimeout == 0 || opt.DialTimeout > 10*time.Second {
		opt.DialTimeout = 10 * time.Second
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = 2 * time.Minute // a hung server fails the call instead of the process
	}
	if opt.Settings == nil {
		opt.Settings = ch.Settings{}
	}
	if o.Cluster != "" {
		// Inserts into a Distributed table return once every shard has
		// its rows, so the meta row really is written last.
		opt.Settings["insert_distributed_sync"] = 1
	}
	conn, err := ch.Open(opt)
	if err != nil {
		return nil, fmt.Errorf("clickhouse at %s: %w", u.Host, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse at %s is not reachable: %w", u.Host, err)
	}
	s := &Store{conn: retryConn{conn}, topo: topology{db: db, cluster: o.Cluster}, addr: u.Host, log: o.Logger, opts: o,
		meta: map[chains.Chain]store.Meta{}, seq: map[chains.Chain]uint64{}, dirty: map[chains.Chain]bool{},
		countShare: 0.25}
	upTo := schemaVersion
	if openSchema > 0 {
		upTo = openSchema
	}
	if err := s.migrate(ctx, upTo); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// openSchema, when set (by tests), is the schema version Open migrates
// to instead of the newest: a database as an older fundtrace left it.
var openSchema int

// String names the store for messages.
func (s *Store) String() string {
	if s.topo.cluster != "" {
		return fmt.Sprintf("clickhouse://%s/%s (cluster %s)", s.addr, s.topo.db, s.topo.cluster)
	}
	return fmt.Sprintf("clickhouse://%s/%s", s.addr, s.topo.db)
}

// Path is String, for commands that print where the store is.
func (s *Store) Path() string { return s.String() }

// Close closes the connections.
func (s *Store) Close() error { return s.conn.Close() }

// table returns the qualified name to read and write a table through.
func (s *Store) table(name string) string {
	return quoteIdent(s.topo.db) + "." + quoteIdent(name)
}

// Migrate creates the database and applies every migration newer than
// the database's schema. It refuses a database whose schema is newer
// than this binary knows.
func (s *Store) Migrate(ctx context.Context) error {
	return s.migrate(ctx, schemaVersion)
}

// migrate applies the migrations up to version upTo.
func (s *Store) migrate(ctx context.Context, upTo int) error {
	if s.topo.cluster != "" {
		if err := s.waitCoordination(ctx); err != nil {
			return err
		}
	}
	if err := s.ddl(ctx, fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %s%s", quoteIdent(s.topo.db), s.topo.on())); err != nil {
		return fmt.Errorf("create database %s: %w", s.topo.db, err)
	}
	mig := tableDef{name: "schema_migrations", columns: "version UInt32, applied UInt64", orderBy: "version", shardKey: "version", granularity: 8192}
	for _, stmt := range s.topo.ddl(mig) {
		if err := s.ddl(ctx, stmt); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
	}
	current, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if current > schemaVersion {
		return fmt.Errorf("%w: database %s has schema %d, this fundtrace knows %d; upgrade fundtrace", store.ErrSchemaTooNew, s.topo.db, current, schemaVersion)
	}
	for _, m := range migrations {
		if m.version <= current || m.version > upTo {
			continue
		}
		for _, t := range m.tables {
			for _, stmt := range s.topo.ddl(t) {
				if err := s.ddl(ctx, stmt); err != nil {
					return fmt.Errorf("migration %d, table %s: %w", m.version, t.name, err)
				}
			}
		}
		if m.then != nil {
			if err := m.then(ctx, s); err != nil {
				return fmt.Errorf("migration %d: %w", m.version, err)
			}
		}
		if err := s.RecordMigration(ctx, m.version); err != nil {
			return err
		}
		s.log.Info("Applied schema migration", "store", s.String(), "version", m.version)
	}
	return nil
}

// waitCoordination waits (up to half a minute) until the server has a
// working ZooKeeper or Keeper session, which ON CLUSTER DDL needs: a
// server that has none fails the DDL, and ClickHouse 18 may crash on it.
func (s *Store) waitCoordination(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n uint64
		err := s.conn.QueryRow(ctx, "SELECT count() FROM system.zookeeper WHERE path = '/'").Scan(&n)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster %s: the server at %s has no working ZooKeeper or Keeper session, which ON CLUSTER DDL needs: %w", s.topo.cluster, s.addr, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// ddl runs an idempotent schema statement, retrying a dropped
// connection: a server whose ZooKeeper session is still being set up
// may close the connection of its first ON CLUSTER statement.
func (s *Store) ddl(ctx context.Context, stmt string) error {
	return s.retry(ctx, "schema", func() error { return s.conn.Exec(ctx, stmt) })
}

// RecordMigration records that the schema is at version v.
func (s *Store) RecordMigration(ctx context.Context, v int) error {
	if err := s.insertRow(ctx, "schema_migrations", "version, applied", uint32(v), uint64(time.Now().Unix())); err != nil {
		return fmt.Errorf("record migration %d: %w", v, err)
	}
	return nil
}

// insertRow inserts one row as a one-row batch. (An INSERT ... VALUES
// with bound parameters through Exec waits forever on ClickHouse 18.)
func (s *Store) insertRow(ctx context.Context, table, cols string, vals ...any) error {
	b, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s (%s)", s.table(table), cols))
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Append(vals...); err != nil {
		return err
	}
	return b.Send()
}

// CountRows returns the number of rows of each named table (as stored on
// the server connected to, for a cluster's _local tables).
func (s *Store) CountRows(ctx context.Context, tables ...string) (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, t := range tables {
		var n uint64
		if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s", s.table(t))).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}

// Database returns the database name.
func (s *Store) Database() string { return s.topo.db }

// SchemaVersion returns the newest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v uint32
	if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT max(version) FROM %s", s.table("schema_migrations"))).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v), nil
}

// retry runs fn until it succeeds, the context ends, the error is not
// one a retry can cure, or the attempts are spent.
func (s *Store) retry(ctx context.Context, what string, fn func() error) error {
	wait := 500 * time.Millisecond
	var err error
	for attempt := 1; ; attempt++ {
		if err = fn(); err == nil || !transient(err) || attempt >= s.opts.Retries {
			break
		}
		s.log.Warn("ClickHouse write failed; retrying", "what", what, "attempt", attempt, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
	return err
}

// transient reports whether an error is worth a retry: the connection
// failed, as opposed to the server rejecting the statement.
func transient(err error) bool {
	var ex *ch.Exception
	if errors.As(err, &ex) {
		return false
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}
