package screening

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Browser sessions, for the workbench: a page signs in once with an API
// key (POST /v1/session) and is given a session cookie (HttpOnly, so no
// script reads it; SameSite=Strict, so no other site's page sends it) and
// a CSRF token, which every write it makes carries in X-CSRF-Token. The
// session names the key by its hash, so revoking the key ends it.
// Sessions live in the server's memory: a restart signs everyone out.

const (
	sessionCookie = "ft_session"
	sessionIdle   = 12 * time.Hour
	csrfHeader    = "X-CSRF-Token"
)

type session struct {
	keyHash string
	csrf    string
	seen    time.Time
}

type sessions struct {
	mu     sync.Mutex
	by     map[string]*session // by token
	signIn *rate.Limiter       // sign-in attempts, all clients together
}

func newSessions() *sessions {
	return &sessions{by: map[string]*session{}, signIn: rate.NewLimiter(10, 20)}
}

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// start opens a session for the key of hash h and returns its token and
// CSRF token.
func (ss *sessions) start(h string) (token, csrf string) {
	token, csrf = randomToken(), randomToken()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := time.Now()
	for t, s := range ss.by { // sweep the expired
		if now.Sub(s.seen) > sessionIdle {
			delete(ss.by, t)
		}
	}
	ss.by[token] = &session{keyHash: h, csrf: csrf, seen: now}
	return token, csrf
}

// get returns the session of token, touching it; nil when there is none
// or it expired.
func (ss *sessions) get(token string) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.by[token]
	if s == nil {
		return nil
	}
	if time.Since(s.seen) > sessionIdle {
		delete(ss.by, token)
		return nil
	}
	s.seen = time.Now()
	c := *s
	return &c
}

func (ss *sessions) end(token string) {
	ss.mu.Lock()
	delete(ss.by, token)
	ss.mu.Unlock()
}

// sessionKey authenticates a request by its session cookie: the key, or
// a status and message to answer with. Writes must carry the session's
// CSRF token.
func (s *Server) sessionKey(r *http.Request) (APIKey, int, string, string) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return APIKey{}, http.StatusUnauthorized, "unauthorized", "no API key: send it in the X-API-Key header, or sign in (POST /v1/session)"
	}
	sess := s.sessions.get(c.Value)
	if sess == nil {
		return APIKey{}, http.StatusUnauthorized, "unauthorized", "the session has ended: sign in again"
	}
	key, ok := s.cfg.Keys.byHashOf(sess.keyHash)
	if !ok {
		s.sessions.end(c.Value)
		return APIKey{}, http.StatusUnauthorized, "unauthorized", "the session's API key was revoked"
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead &&
		subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(sess.csrf)) != 1 {
		return APIKey{}, http.StatusForbidden, "csrf", "a write from a signed-in page must carry its " + csrfHeader
	}
	return key, 0, "", ""
}

// SessionAnswer says who is signed in.
type SessionAnswer struct {
	Name     string `json:"name"`
	KeyID    string `json:"key_id"`
	ReadOnly bool   `json:"read_only"`
	Admin    bool   `json:"admin"`
	// CSRF is the token the page sends with every write (X-CSRF-Token);
	// only to a session.
	CSRF string `json:"csrf,omitempty"`
}

func (s *Server) sessionRoutes() {
	s.handle("POST /v1/session", "session_start", false, s.sessionStart)
	s.handle("GET /v1/session", "session", true, s.sessionGet)
	s.handle("DELETE /v1/session", "session_end", false, s.sessionEnd)
}

func (s *Server) sessionStart(w http.ResponseWriter, r *http.Request) {
	if !s.sessions.signIn.Allow() {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "rate_limited", "", "too many sign-in attempts: try again in a second")
		return
	}
	var req struct {
		Key string `json:"key"`
	}
	if !s.readJSON(w, r, 4096, &req) {
		return
	}
	key, ok := s.cfg.Keys.Check(req.Key)
	if !ok {
		writeError(w, http.StatusUnauthorized, "unauthorized", "key", "the API key is not valid (unknown or revoked)")
		return
	}
	token, csrf := s.sessions.start(key.Hash)
	setSessionCookie(w, r, token, int(sessionIdle/time.Second))
	writeJSON(w, http.StatusOK, SessionAnswer{Name: key.Name, KeyID: key.ID, ReadOnly: key.ReadOnly, Admin: key.Admin, CSRF: csrf})
}

func (s *Server) sessionGet(w http.ResponseWriter, r *http.Request) {
	k := keyOf(r)
	ans := SessionAnswer{Name: k.Name, KeyID: k.ID, ReadOnly: k.ReadOnly, Admin: k.Admin}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if sess := s.sessions.get(c.Value); sess != nil && sess.keyHash == k.Hash {
			ans.CSRF = sess.csrf
		}
	}
	writeJSON(w, http.StatusOK, ans)
}

func (s *Server) sessionEnd(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.end(c.Value)
	}
	setSessionCookie(w, r, "", -1)
	w.WriteHeader(http.StatusNoContent)
}

// setSessionCookie sets (or, with maxAge -1, removes) the session cookie.
func setSessionCookie(w http.ResponseWriter, r *http.Request, token string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: maxAge})
}
