package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/internal/chtest"
	"github.com/fundtrace/fundtrace/internal/shareddata"
)

// startServer runs fundtrace serve as a child process and waits until it
// answers /healthz.
func startServer(t *testing.T, client *http.Client, scheme string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	port, err := chtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(os.Args[0], append(append([]string{}, args...), "--listen", addr, "--reload", "100ms")...)
	cmd.Env = append(os.Environ(), "FUNDTRACE_TEST_CHILD=1")
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	base := scheme + "://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeGracefulShutdown: a request still arriving when SIGTERM comes
// is answered in full, then the server exits cleanly; a key revoked with
// fundtrace apikey revoke is refused by the running server; a key never
// appears in the server's log.
func TestServeGracefulShutdown(t *testing.T) {
	st := t.TempDir() + "/store"
	keys := filepath.Join(t.TempDir(), "keys.json")
	sdn := shareddata.Path(t, "sanctions", "ofac", "legacy-csv", "git-scrape", "sdn_2024-05-03.csv.gz")
	if _, _, err := run(t, "--store", st, "sanctions", "import", sdn, "--date", "2024-05-03", "--allow-truncated"); err != nil {
		t.Fatal(err)
	}
	key, _, err := run(t, "apikey", "create", "--name", "bank", "--keys", keys)
	if err != nil {
		t.Fatal(err)
	}
	key = strings.TrimSpace(key)
	other, _, err := run(t, "apikey", "create", "--name", "other", "--keys", keys)
	if err != nil {
		t.Fatal(err)
	}
	other = strings.TrimSpace(other)
	if out, _, err := run(t, "apikey", "list", "--keys", keys); err != nil || !strings.Contains(out, "bank") || strings.Contains(out, key) {
		t.Fatalf("apikey list: %v\n%s", err, out)
	}
	cmd, base := startServer(t, http.DefaultClient, "http", "--store", st, "serve", "--keys", keys)
	get := func(key, path string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(other, "/v1/screen/eth/0xa7e5d5a720f06526557c513402f2e6b5fa20b008"); code != 200 {
		t.Fatalf("screen: %d", code)
	}
	if _, _, err := run(t, "apikey", "revoke", "other", "--keys", keys); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for get(other, "/v1/screen/eth/0xa7e5d5a720f06526557c513402f2e6b5fa20b008") != 401 {
		if time.Now().After(deadline) {
			t.Fatal("the revoked key still works")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A request in flight: headers and half the body sent.
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"addresses": ["0xa7e5d5a720f06526557c513402f2e6b5fa20b008", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"]}`
	fmt.Fprintf(conn, "POST /v1/screen HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", key, len(body), body[:20])
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	io.WriteString(conn, body[20:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Results []struct {
			Sanctioned bool `json:"sanctioned"`
		} `json:"results"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil || len(out.Results) != 2 || !out.Results[0].Sanctioned || out.Results[1].Sanctioned {
		t.Fatalf("in-flight request: %d %s", resp.StatusCode, b)
	}
	conn.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exited with %v after SIGTERM", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server still running 10 s after SIGTERM")
	}
	if logs := fmt.Sprint(cmd.Stderr); strings.Contains(logs, key) || strings.Contains(logs, other) {
		t.Fatal("an API key appears in the server's log")
	}
}

// TestServeTLS: with a certificate and key the server speaks HTTPS only.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(priv)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	st := t.TempDir() + "/store"
	if _, _, err := run(t, "--store", st, "index", "btc", "--blocks", realBlocks, "--to", "10"); err != nil {
		t.Fatal(err)
	}
	importList2021(t, st) // healthz answers 200 only with a list in force
	_, base := startServer(t, client, "https", "--store", st, "serve", "--keys", filepath.Join(dir, "keys.json"), "--tls-cert", certFile, "--tls-key", keyFile)
	if resp, err := http.Get("http" + strings.TrimPrefix(base, "https") + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP answered on the TLS port")
		}
	}
	if _, _, err := run(t, "--store", st, "serve", "--tls-cert", certFile); err == nil || !strings.Contains(err.Error(), "go together") {
		t.Fatalf("--tls-cert alone: %v", err)
	}
}
