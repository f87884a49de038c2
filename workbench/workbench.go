// Package workbench is the investigator's workbench: a single page, its
// script and style and the JavaScript libraries it draws graphs with
// (vendored from npm at pinned versions, with their licences:
// scripts/vendor-js.sh), all embedded in the binary. The page reads and
// writes only through the server's API (/v1/…), signed in with an API key
// (a session cookie); nothing is loaded from outside the server.
package workbench

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed web
var files embed.FS

// CSP is the Content-Security-Policy of every page and file: scripts,
// styles and connections to the server itself only, no inline script or
// style, no frames, no plugins.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
	"font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Handler serves the page at / and its files under /ui/.
func Handler() http.Handler {
	web, err := fs.Sub(files, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	static := http.StripPrefix("/ui/", http.FileServerFS(web))
	index, err := fs.ReadFile(web, "index.html")
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(index)
	})
	mux.Handle("GET /ui/", static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		mux.ServeHTTP(w, r)
	})
}
