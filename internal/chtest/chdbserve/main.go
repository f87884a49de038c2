//go:build cgo

// Command chdbserve answers ClickHouse's HTTP interface, as far as
// clickhouse-go uses it, with ClickHouse's current engine run in this
// process by chDB (libchdb.so, ClickHouse 26.x built as a library). The
// ClickHouse tests run the store's conformance suite through it, so that
// the schema and every query are checked on the ClickHouse of today as
// well as on the Debian package's 18.16 server.
//
// It is a test tool, not a server to deploy: one session, queries in
// turn, no users. It handles what the store sends: queries with
// settings as URL parameters and results in the Native format (re-encoded
// for the client's protocol revision), external tables (multipart
// parts, in Native), and batch inserts (INSERT ... FORMAT Native with
// the block as the body). An error answers 500 with ClickHouse's code.
//
//	chdbserve [-lib libchdb.so] -dir DATA
//
// (the library by default beside the command, where
// scripts/ensure-chdb.sh puts both)
// prints the address it listens on (127.0.0.1:port) once it answers.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

func main() {
	lib := flag.String("lib", "", "path of libchdb.so (default: beside this command)")
	dir := flag.String("dir", "", "folder for the engine's data (made if missing)")
	flag.Parse()
	if *dir == "" {
		log.Fatal("chdbserve: -dir is required")
	}
	if *lib == "" {
		exe, err := os.Executable()
		if err != nil {
			log.Fatal(err)
		}
		*lib = filepath.Join(filepath.Dir(exe), "libchdb.so")
	}
	if err := os.MkdirAll(filepath.Join(*dir, "tmp"), 0o755); err != nil {
		log.Fatal(err)
	}
	eng, err := openEngine(*lib, filepath.Join(*dir, "data"))
	if err != nil {
		log.Fatalf("chdbserve: %v", err)
	}
	for _, q := range strings.Split(os.Getenv("CHDBSERVE_INIT"), ";") {
		if strings.TrimSpace(q) != "" {
			if _, err := eng.query(q, "TSV"); err != nil {
				log.Fatalf("chdbserve: %s: %v", q, err)
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	log.Fatal(http.Serve(ln, &server{eng: eng, tmp: filepath.Join(*dir, "tmp"), set: map[string]string{}}))
}

type server struct {
	eng *engine
	tmp string
	seq atomic.Int64
	// under eng.mu: the session's settings and database, as last set
	set map[string]string
	db  string
}

// Parameters of the HTTP interface that are not settings.
var notSettings = map[string]bool{
	"query": true, "database": true, "default_format": true, "client_protocol_version": true,
	"query_id": true, "quota_key": true, "session_id": true, "compress": true, "decompress": true,
}

var (
	insertNative = regexp.MustCompile(`(?is)^\s*(INSERT\s+INTO\s+.+?)\s+FORMAT\s+Native\s*$`)
	errorCode    = regexp.MustCompile(`Code: (\d+)`)
)

// ServeHTTP runs one request's query.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out, err := s.serve(r)
	if err != nil {
		code := "1001"
		if m := errorCode.FindStringSubmatch(err.Error()); m != nil {
			code = m[1]
		}
		w.Header().Set("X-ClickHouse-Exception-Code", code)
		w.WriteHeader(http.StatusInternalServerError)
		msg := err.Error()
		if !strings.HasPrefix(msg, "Code: ") {
			msg = "Code: " + code + ". DB::Exception: " + msg
		}
		io.WriteString(w, msg)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.Write(out)
}

type extTable struct {
	name, structure string
	data            []byte
}

func (s *server) serve(r *http.Request) ([]byte, error) {
	params := r.URL.Query()
	query := params.Get("query")
	var body []byte
	var exts []extTable
	ctype, mparams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ctype == "multipart/form-data":
		mr := multipart.NewReader(r.Body, mparams["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("multipart: %w", err)
			}
			b, err := io.ReadAll(p)
			if err != nil {
				return nil, err
			}
			name := p.FormName()
			if name == "query" && p.FileName() == "" {
				query = string(b)
				continue
			}
			if f := params.Get(name + "_format"); f != "Native" {
				return nil, fmt.Errorf("external table %s in format %q; only Native is handled", name, f)
			}
			exts = append(exts, extTable{name: name, structure: params.Get(name + "_structure"), data: b})
		}
	default:
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		if query == "" {
			query = string(b)
		} else {
			body = b
		}
	}
	revision, _ := strconv.ParseUint(params.Get("client_protocol_version"), 10, 64)

	s.eng.mu.Lock()
	defer s.eng.mu.Unlock()
	// Settings stay set in the session: each is set again only when a
	// request gives it another value.
	for k, vs := range params {
		if notSettings[k] || strings.HasSuffix(k, "_structure") || strings.HasSuffix(k, "_format") || strings.HasPrefix(k, "param_") || s.set[k] == vs[0] {
			continue
		}
		if _, err := s.eng.queryLocked(fmt.Sprintf("SET %s = %s", k, quote(vs[0])), "TSV"); err != nil {
			return nil, err
		}
		s.set[k] = vs[0]
	}
	if db := params.Get("database"); db != "" && db != s.db {
		if _, err := s.eng.queryLocked("USE "+quoteIdent(db), "TSV"); err != nil {
			return nil, err
		}
		s.db = db
	}
	var files []string
	defer func() {
		for _, f := range files {
			os.Remove(f)
		}
	}()
	file := func(data []byte) (string, error) {
		f := filepath.Join(s.tmp, strconv.FormatInt(s.seq.Add(1), 10)+".native")
		files = append(files, f)
		return f, os.WriteFile(f, data, 0o644)
	}
	// An external table is read where the query names it, from its
	// file: the same rows as the server's temporary table of it, without
	// three statements more a query.
	for _, t := range exts {
		f, err := file(t.data)
		if err != nil {
			return nil, err
		}
		name := regexp.MustCompile("(^|[^.`\\w])" + regexp.QuoteMeta(t.name) + `\b`)
		src := fmt.Sprintf("(SELECT * FROM file(%s, 'Native', %s))", quote(f), quote(t.structure))
		query = name.ReplaceAllString(query, "${1}"+strings.ReplaceAll(src, "$", "$$"))
	}
	if m := insertNative.FindStringSubmatch(query); m != nil {
		if len(body) == 0 {
			return nil, nil
		}
		f, err := file(body)
		if err != nil {
			return nil, err
		}
		_, err = s.eng.queryLocked(fmt.Sprintf("%s SELECT * FROM file(%s, 'Native')", m[1], quote(f)), "TSV")
		return nil, err
	}
	out, err := s.eng.queryLocked(query, "Native")
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return reencode(out, revision)
}

// reencode turns the engine's Native output (blocks as a file holds
// them: no block info, no serialization kinds) into what the HTTP
// interface sends a client of protocol revision rev.
func reencode(native []byte, rev uint64) ([]byte, error) {
	rd := chproto.NewReader(bufio.NewReader(bytes.NewReader(native)))
	var buf chproto.Buffer
	for {
		var b proto.Block
		if err := b.Decode(rd, 0); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("decode the engine's Native output: %w", err)
		}
		if err := b.Encode(&buf, rev); err != nil {
			return nil, err
		}
	}
	return buf.Buf, nil
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
