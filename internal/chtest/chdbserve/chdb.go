//go:build cgo

package main

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

typedef struct { void *internal_data; } chdb_connection_;
typedef chdb_connection_ *chdb_connection;
typedef void chdb_result;

static void *lib;
static chdb_connection *(*p_connect)(int, char **);
static chdb_result *(*p_query)(chdb_connection, const char *, const char *);
static char *(*p_buffer)(chdb_result *);
static size_t (*p_length)(chdb_result *);
static const char *(*p_error)(chdb_result *);
static void (*p_destroy)(chdb_result *);

static const char *load(const char *path) {
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) return dlerror();
	p_connect = dlsym(lib, "chdb_connect");
	p_query = dlsym(lib, "chdb_query");
	p_buffer = dlsym(lib, "chdb_result_buffer");
	p_length = dlsym(lib, "chdb_result_length");
	p_error = dlsym(lib, "chdb_result_error");
	p_destroy = dlsym(lib, "chdb_destroy_query_result");
	if (!p_connect || !p_query || !p_buffer || !p_length || !p_error || !p_destroy) return "libchdb lacks the chdb_connect/chdb_query API";
	return NULL;
}

static chdb_connection *connect_chdb(int argc, char **argv) { return p_connect(argc, argv); }
static chdb_result *query(chdb_connection *c, const char *q, const char *f) { return p_query(*c, q, f); }
static char *result_buffer(chdb_result *r) { return p_buffer(r); }
static size_t result_length(chdb_result *r) { return p_length(r); }
static const char *result_error(chdb_result *r) { return p_error(r); }
static void destroy(chdb_result *r) { p_destroy(r); }
*/
import "C"

import (
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"time"
	"unsafe"
)

// slowLog, when CHDBSERVE_SLOW_MS is set, is the least time a query is
// logged for (to standard error).
var slowLog = func() time.Duration {
	ms, _ := time.ParseDuration(os.Getenv("CHDBSERVE_SLOW_MS") + "ms")
	return ms
}()

// engine is one chDB session: ClickHouse's engine (the same SQL, the
// same MergeTree) in this process, its tables in a folder of its own.
// chDB runs one query at a time per session, so queries take turns.
type engine struct {
	mu   sync.Mutex
	conn *C.chdb_connection
}

func openEngine(lib, dir string) (*engine, error) {
	cpath := C.CString(lib)
	defer C.free(unsafe.Pointer(cpath))
	if msg := C.load(cpath); msg != nil {
		return nil, fmt.Errorf("load %s: %s", lib, C.GoString(msg))
	}
	args := []string{"clickhouse", "--path=" + dir}
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
		defer C.free(unsafe.Pointer(argv[i]))
	}
	conn := C.connect_chdb(C.int(len(args)), &argv[0])
	if conn == nil {
		return nil, errors.New("chdb_connect failed")
	}
	return &engine{conn: conn}, nil
}

// query runs one statement and returns its output in format.
func (e *engine) query(q, format string) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.queryLocked(q, format)
}

func (e *engine) queryLocked(q, format string) ([]byte, error) {
	if slowLog > 0 {
		defer func(t0 time.Time) {
			if d := time.Since(t0); d >= slowLog {
				log.Printf("%6.1f ms %.200s", float64(d.Microseconds())/1000, q)
			}
		}(time.Now())
	}
	cq, cf := C.CString(q), C.CString(format)
	defer C.free(unsafe.Pointer(cq))
	defer C.free(unsafe.Pointer(cf))
	r := C.query(e.conn, cq, cf)
	if r == nil {
		return nil, errors.New("chdb_query returned nothing")
	}
	defer C.destroy(r)
	if msg := C.result_error(r); msg != nil {
		return nil, errors.New(C.GoString(msg))
	}
	n := C.result_length(r)
	if n == 0 {
		return nil, nil
	}
	return C.GoBytes(unsafe.Pointer(C.result_buffer(r)), C.int(n)), nil
}
