package screening

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/cases"
)

// TestSessions: a page signs in with a key and reads with the cookie
// alone; its writes need the CSRF token; the cookie is HttpOnly and
// SameSite=Strict; signing out, and revoking the key, end the session;
// a wrong key gets no session.
func TestSessions(t *testing.T) {
	st := testStore(t)
	cs, err := cases.New(context.Background(), st, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	f := newFixtureOn(t, Config{Cases: cs}, st)
	s, c := f.server, newContract(t)
	do := func(method, path, cookie, csrf, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
		}
		if csrf != "" {
			req.Header.Set(csrfHeader, csrf)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		return w
	}
	c.call(t, s, "POST", "/v1/session", "", `{"key": "ftk_nope"}`, 401)
	b := c.call(t, s, "POST", "/v1/session", "", `{"key": "`+f.key+`"}`, 200)
	var who SessionAnswer
	json.Unmarshal(b, &who)
	w := do("POST", "/v1/session", "", "", `{"key": "`+f.key+`"}`)
	var cookie *http.Cookie
	for _, ck := range w.Result().Cookies() {
		if ck.Name == sessionCookie {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || who.CSRF == "" || who.Name != "acme payments" {
		t.Fatalf("sign in: cookie %+v, answer %+v", cookie, who)
	}
	json.Unmarshal(w.Body.Bytes(), &who)
	if got := do("GET", "/v1/cases", cookie.Value, "", ""); got.Code != 200 {
		t.Fatalf("a read with the cookie: %d %s", got.Code, got.Body)
	}
	if got := do("POST", "/v1/cases", cookie.Value, "", `{"title": "t"}`); got.Code != 403 || !strings.Contains(got.Body.String(), "csrf") {
		t.Fatalf("a write with the cookie and no CSRF token: %d %s", got.Code, got.Body)
	}
	if got := do("POST", "/v1/cases", cookie.Value, "wrong", `{"title": "t"}`); got.Code != 403 {
		t.Fatalf("a write with a wrong CSRF token: %d", got.Code)
	}
	if got := do("POST", "/v1/cases", cookie.Value, who.CSRF, `{"title": "t"}`); got.Code != 201 {
		t.Fatalf("a write with the CSRF token: %d %s", got.Code, got.Body)
	}
	if got := do("GET", "/v1/session", cookie.Value, "", ""); got.Code != 200 || !strings.Contains(got.Body.String(), who.CSRF) {
		t.Fatalf("who: %d %s", got.Code, got.Body)
	}
	if got := do("DELETE", "/v1/session", cookie.Value, "", ""); got.Code != 204 {
		t.Fatalf("sign out: %d", got.Code)
	}
	if got := do("GET", "/v1/cases", cookie.Value, "", ""); got.Code != 401 {
		t.Fatalf("after signing out: %d", got.Code)
	}
	// Revoking the key ends its sessions.
	w = do("POST", "/v1/session", "", "", `{"key": "`+f.key+`"}`)
	token := ""
	for _, ck := range w.Result().Cookies() {
		if ck.Name == sessionCookie {
			token = ck.Value
		}
	}
	if _, err := RevokeKey(f.keys, "acme payments"); err != nil {
		t.Fatal(err)
	}
	if err := s.cfg.Keys.reload(true); err != nil {
		t.Fatal(err)
	}
	if got := do("GET", "/v1/cases", token, "", ""); got.Code != 401 || !strings.Contains(got.Body.String(), "revoked") {
		t.Fatalf("after the key was revoked: %d %s", got.Code, got.Body)
	}
}
