package main

// The first run of the API as the README shows it, with the real binary:
// an administrator and a token from the command line, a package through
// the API, and the operator's commands changing what a running gateway
// serves.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portico/internal/testenv"
)

// operator runs an operator's command with stdin as its standard input
// and returns its standard output; it must succeed.
func operator(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("portico %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

func TestFirstRunSQLite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	testFirstRun(t, []string{"--data", dir}, []string{"--data", dir})
}

func TestFirstRunPostgres(t *testing.T) {
	url := testenv.Postgres(t)
	testFirstRun(t, []string{"--database", url, "--data", filepath.Join(t.TempDir(), "data")}, []string{"--database", url})
}

func testFirstRun(t *testing.T, serveStore, cmdStore []string) {
	example, err := os.ReadFile("../../examples/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	out := operator(t, "a long passphrase of your own\n", append([]string{"users", "add", "admin@example.org", "--admin"}, cmdStore...)...)
	if out != "" {
		t.Errorf("users add wrote %q on standard output", out)
	}
	token := strings.TrimSpace(operator(t, "", append([]string{"tokens", "create", "--user", "admin@example.org", "--scope", "write", "--name", "first-run"}, cmdStore...)...))

	appAddr := freeAddr(t)
	g := start(t, string(example), append([]string{"--app-listen", appAddr, "--events", "none"}, serveStore...)...)
	// The gateway is running: what the commands change, it routes.
	operator(t, "", append([]string{"domains", "add", "get.example.org", "--org", "user-admin", "--verified"}, cmdStore...)...)

	body := `{"org":"user-admin","name":"rocket-skates","rule":{"type":"file-v1","domain":"get.example.org",
       "incoming-path":"/rocket-skates/{version}.tar.gz",
       "outgoing-url":"https://github.com/acme/rocket-skates/releases/download/{version}/rocket-skates.tar.gz"}}`
	req, _ := http.NewRequest("POST", "http://"+appAddr+"/api/v1/packages", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var pkg struct{ ID, Org, Name string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(answer, &pkg) != nil || pkg.Org != "user-admin" || pkg.ID == "" {
		t.Fatalf("POST /api/v1/packages: %d %s", resp.StatusCode, answer)
	}
	r := get(t, "http://"+g.addr+"/rocket-skates/v1.2.0.tar.gz", "get.example.org")
	if want := "https://github.com/acme/rocket-skates/releases/download/v1.2.0/rocket-skates.tar.gz"; r.StatusCode != http.StatusTemporaryRedirect || r.Header.Get("Location") != want {
		t.Errorf("download through the new package: %d %q, want 307 to %s", r.StatusCode, r.Header.Get("Location"), want)
	}

	// A user added with a sign-in link opens a session with it, once,
	// and sets a password in that session.
	link := strings.TrimSpace(operator(t, "", append([]string{"users", "add", "dev@example.org", "--link"}, cmdStore...)...))
	if code, _ := apiCall(t, appAddr, "POST", "/api/v1/session", "", `{"link":"`+link+`"}`); code != http.StatusCreated {
		t.Errorf("signing in with the link: %d", code)
	}
	code, cookie := apiCall(t, appAddr, "POST", "/api/v1/session", "", `{"link":"`+link+`"}`)
	if code != http.StatusUnauthorized {
		t.Errorf("the link worked twice: %d", code)
	}
	link = strings.TrimSpace(operator(t, "", append([]string{"users", "link", "dev@example.org"}, cmdStore...)...))
	if code, cookie = apiCall(t, appAddr, "POST", "/api/v1/session", "", `{"link":"`+link+`"}`); code != http.StatusCreated || cookie == "" {
		t.Fatalf("signing in with a second link: %d", code)
	}
	if code, _ := apiCall(t, appAddr, "PATCH", "/api/v1/me", cookie, `{"password":"another long passphrase"}`); code != http.StatusOK {
		t.Errorf("setting a password in the link's session: %d", code)
	}
	if code, _ := apiCall(t, appAddr, "POST", "/api/v1/session", "", `{"email":"dev@example.org","password":"another long passphrase"}`); code != http.StatusCreated {
		t.Errorf("signing in with the password set: %d", code)
	}

	// An import into the running gateway's store routes without a
	// restart: on PostgreSQL by notification, on SQLite by the version
	// poll of --reload-interval.
	m := filepath.Join(t.TempDir(), "more.json")
	os.WriteFile(m, []byte(`{"rules":[{"type":"file-v1","domain":"get.example.org","incoming-path":"/install.sh",
		"outgoing-url":"https://raw.githubusercontent.com/acme/rocket-skates/main/install.sh","package-id":"installer"}]}`), 0o644)
	operator(t, "", append([]string{"import", "--manifest", m, "--org", "user-admin"}, cmdStore...)...)
	took := waitFor(t, "the imported package routes", 10*time.Second, func() bool {
		return get(t, "http://"+g.addr+"/install.sh", "get.example.org").StatusCode == http.StatusTemporaryRedirect
	})
	t.Logf("the import routed after %v", took)

	exported := operator(t, "", append([]string{"export", "--org", "user-admin"}, cmdStore...)...)
	for _, want := range []string{`"package-id": "installer"`, `"package-id": "` + pkg.ID + `"`, `"x-portico-name": "rocket-skates"`} {
		if !strings.Contains(exported, want) {
			t.Errorf("the export lacks %s:\n%s", want, exported)
		}
	}
	path := filepath.Join(t.TempDir(), "exported.json")
	os.WriteFile(path, []byte(exported), 0o644)
	if out, err := exec.Command(bin, "check", "--manifest", path).CombinedOutput(); err != nil || !strings.Contains(string(out), "ok (2 rules, 1 domains)") {
		t.Errorf("check of the export: %v\n%s", err, out)
	}
}

// apiCall sends a JSON body to the API, with a session cookie when
// given, and returns the status and the session cookie it set.
func apiCall(t *testing.T, addr, method, path, cookie, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "portico_session", Value: cookie})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "portico_session" {
			return resp.StatusCode, c.Value
		}
	}
	return resp.StatusCode, ""
}
