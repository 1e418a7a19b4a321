package app

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"portico/internal/config"
	"portico/internal/gateway"
	"portico/internal/testenv"
)

// collectionConfig is a gateway of the store at database ("" for SQLite
// under its data directory) that writes its events to the test and may
// proxy to a registry on 127.0.0.1.
func collectionConfig(t *testing.T, database string) config.Config {
	t.Helper()
	cfg := replicaConfig(t, database)
	cfg.Events = "stdout"
	cfg.AllowPrivateUpstreams = true
	return cfg
}

// eachStore runs f on SQLite and on PostgreSQL.
func eachStore(t *testing.T, f func(t *testing.T, database string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, "") })
	t.Run("postgres", func(t *testing.T) { f(t, testenv.Postgres(t)) })
}

// listedPackage is a package as GET /api/v1/packages lists it.
type listedPackage struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Source     string          `json:"source"`
	Collection string          `json:"collection"`
	Rule       json.RawMessage `json:"rule"`
}

// listPackages asks the app's API for the packages of org.
func listPackages(t *testing.T, a *App, token, org string) []listedPackage {
	t.Helper()
	st, body := call(t, a, token, "GET", "/api/v1/packages?org="+org, nil)
	var list struct {
		Items []listedPackage `json:"items"`
	}
	if err := json.Unmarshal(body, &list); st != http.StatusOK || err != nil {
		t.Fatalf("list packages = %d %s", st, body)
	}
	return list.Items
}

// createCollection creates a collection through the API and returns its
// id.
func createCollection(t *testing.T, a *App, token, org, name string, rule map[string]any) string {
	t.Helper()
	st, body := call(t, a, token, "POST", "/api/v1/collections", map[string]any{"org": org, "name": name, "rule": rule})
	if st != http.StatusCreated {
		t.Fatalf("create collection = %d %s", st, body)
	}
	return jsonField(t, body, "id")
}

// loggedEvent is the part of an event line the tests read.
type loggedEvent struct {
	Kind      string  `json:"kind"`
	PackageID *string `json:"package_id"`
	RuleID    *string `json:"rule_id"`
	Method    string  `json:"method"`
	Path      string  `json:"path"`
	Status    int     `json:"status"`
	Docker    struct {
		Image  string `json:"image"`
		Object string `json:"object"`
		Pull   bool   `json:"pull"`
	} `json:"docker"`
}

func parseEvents(t *testing.T, stream string) []loggedEvent {
	t.Helper()
	var out []loggedEvent
	for line := range strings.Lines(stream) {
		var e loggedEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("event line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

func str(p *string) string {
	if p == nil {
		return "null"
	}
	return *p
}

// waitStats polls a package's statistics until they count want
// downloads.
func waitStats(t *testing.T, a *App, token, id string, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, body := call(t, a, token, "GET", "/api/v1/packages/"+id+"/stats", nil)
		var s struct {
			Total int `json:"total"`
		}
		if err := json.Unmarshal(body, &s); st != http.StatusOK || err != nil {
			t.Fatalf("stats = %d %s", st, body)
		}
		if s.Total == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("package %s counts %d downloads, want %d: %s", id, s.Total, want, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCollectionFileFirstDownload: the first download that matches a
// file collection creates the package of its {package} value, with the
// derived id, listed by the API right after the download; the download
// counts under that id, and later ones route through the package.
func TestCollectionFileFirstDownload(t *testing.T) {
	eachStore(t, func(t *testing.T, db string) {
		a := startApp(t, collectionConfig(t, db))
		tok, org := adminToken(t, a.App, "ops@acme.test")
		host := org + ".gw.test"
		gw := a.gw.Addr().String()
		coll := createCollection(t, a.App, tok, org, "releases", map[string]any{"type": "file-v1", "domain": host,
			"incoming-path": "/{package}/{version}.tar.gz", "outgoing-url": "https://dl.test/{package}/v{version}.tar.gz"})
		if got := listPackages(t, a.App, tok, org); len(got) != 0 {
			t.Fatalf("packages before any download: %+v", got)
		}

		if st, loc := download(t, gw, host, "/rocket/1.0.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/rocket/v1.0.tar.gz" {
			t.Fatalf("first download: %d %q", st, loc)
		}
		want := gateway.CollectionPackageID(coll, "rocket")
		got := listPackages(t, a.App, tok, org)
		if len(got) != 1 || got[0].ID != want || got[0].Name != "rocket" || got[0].Source != "collection" || got[0].Collection != coll {
			t.Fatalf("right after the first download the API lists %+v, want one package %s named rocket from collection %s", got, want, coll)
		}
		var rule map[string]any
		if err := json.Unmarshal(got[0].Rule, &rule); err != nil || rule["incoming-path"] != "/rocket/{version}.tar.gz" || rule["outgoing-url"] != "https://dl.test/rocket/v{version}.tar.gz" {
			t.Errorf("the package's rule is %s, want the collection's with rocket written in", got[0].Rule)
		}

		for _, v := range []string{"1.1", "1.2"} {
			if st, loc := download(t, gw, host, "/rocket/"+v+".tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/rocket/v"+v+".tar.gz" {
				t.Fatalf("download %s: %d %q", v, st, loc)
			}
		}
		if got := listPackages(t, a.App, tok, org); len(got) != 1 {
			t.Fatalf("later downloads created more packages: %+v", got)
		}
		// A HEAD is no download: it creates nothing.
		req, _ := http.NewRequest(http.MethodHead, "http://"+gw+"/jet/1.0.tar.gz", nil)
		req.Host = host
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTemporaryRedirect {
			t.Fatalf("HEAD: %d", resp.StatusCode)
		}
		if got := listPackages(t, a.App, tok, org); len(got) != 1 {
			t.Fatalf("a HEAD created a package: %+v", got)
		}
		waitStats(t, a.App, tok, want, 3)

		a.stop()
		var fromCollection, fromPackage int
		for _, e := range parseEvents(t, a.events.String()) {
			if !strings.HasPrefix(e.Path, "/rocket/") {
				continue
			}
			if str(e.PackageID) != want {
				t.Errorf("event of %s has package_id %s, want %s", e.Path, str(e.PackageID), want)
			}
			switch str(e.RuleID) {
			case coll:
				fromCollection++
			case "null":
				fromPackage++
			default:
				t.Errorf("event of %s has rule_id %s", e.Path, str(e.RuleID))
			}
		}
		if fromCollection != 1 || fromPackage != 2 {
			t.Errorf("%d downloads served by the collection and %d by the package, want 1 and 2", fromCollection, fromPackage)
		}
	})
}

// testRegistry starts go-containerregistry's registry with the images
// acme/NAME:1.0 for each name, and returns its URL.
func testRegistry(t *testing.T, names ...string) (string, map[string]v1.Hash) {
	t.Helper()
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	digests := map[string]v1.Hash{}
	for _, n := range names {
		img, err := random.Image(2048, 2)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(host+"/acme/"+n+":1.0", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		if digests["acme/"+n], err = img.Digest(); err != nil {
			t.Fatal(err)
		}
	}
	return reg.URL, digests
}

// pull pulls image:1.0 from host through the gateway at addr with
// go-containerregistry's client, manifest, config and layers, and
// returns the image's digest.
func pull(addr, host, image string) (v1.Hash, error) {
	_, port, _ := net.SplitHostPort(addr)
	ref, err := name.ParseReference(host+":"+port+"/"+image+":1.0", name.Insecure)
	if err != nil {
		return v1.Hash{}, err
	}
	var d net.Dialer
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	img, err := remote.Image(ref, remote.WithTransport(tr))
	if err != nil {
		return v1.Hash{}, err
	}
	if _, err := img.RawConfigFile(); err != nil {
		return v1.Hash{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return v1.Hash{}, err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return v1.Hash{}, err
		}
	}
	return img.Digest()
}

func mustPull(t *testing.T, addr, host, image string, want v1.Hash) {
	t.Helper()
	got, err := pull(addr, host, image)
	if err != nil {
		t.Fatalf("pull %s: %v", image, err)
	}
	if got != want {
		t.Fatalf("pull %s: digest %s, want %s", image, got, want)
	}
}

// dockerCollection is a collection rule serving acme/* from reg.
func dockerCollection(host, reg string) map[string]any {
	return map[string]any{"type": "docker-v2", "domain": host, "pattern": "acme/*", "registry": reg}
}

// TestCollectionDockerFirstPull: the first pull of an image matching a
// docker collection creates exactly one package with the derived id,
// listed by the API right after the pull; every event of that pull
// carries the id, and a second pull routes through the package and
// creates nothing.
func TestCollectionDockerFirstPull(t *testing.T) {
	eachStore(t, func(t *testing.T, db string) {
		reg, digests := testRegistry(t, "rocket")
		a := startApp(t, collectionConfig(t, db))
		tok, org := adminToken(t, a.App, "ops@acme.test")
		host := org + ".gw.test"
		gw := a.gw.Addr().String()
		coll := createCollection(t, a.App, tok, org, "images", dockerCollection(host, reg))

		mustPull(t, gw, host, "acme/rocket", digests["acme/rocket"])
		want := gateway.CollectionPackageID(coll, "acme/rocket")
		got := listPackages(t, a.App, tok, org)
		if len(got) != 1 || got[0].ID != want || got[0].Name != "acme-rocket" || got[0].Source != "collection" || got[0].Collection != coll {
			t.Fatalf("right after the first pull the API lists %+v, want one package %s named acme-rocket from collection %s", got, want, coll)
		}
		var rule map[string]any
		if err := json.Unmarshal(got[0].Rule, &rule); err != nil || rule["type"] != "docker-v1" || rule["repository-name"] != "acme/rocket" || rule["registry"] != reg {
			t.Errorf("the package's rule is %s, want docker-v1 for acme/rocket on %s", got[0].Rule, reg)
		}

		mustPull(t, gw, host, "acme/rocket", digests["acme/rocket"])
		if got := listPackages(t, a.App, tok, org); len(got) != 1 || got[0].ID != want {
			t.Fatalf("after the second pull the API lists %+v", got)
		}
		waitStats(t, a.App, tok, want, 2)

		a.stop()
		var pulls []string // the rule_id of each pull
		for _, e := range parseEvents(t, a.events.String()) {
			if e.Kind != "docker" || e.Docker.Object == "ping" {
				continue
			}
			if e.Docker.Image != "acme/rocket" || str(e.PackageID) != want {
				t.Errorf("event %s %s: image %q, package_id %s; want acme/rocket under %s", e.Method, e.Path, e.Docker.Image, str(e.PackageID), want)
			}
			if e.Docker.Pull {
				pulls = append(pulls, str(e.RuleID))
			}
		}
		if len(pulls) != 2 || pulls[0] != coll || pulls[1] != "null" {
			t.Errorf("pulls served by %q, want the collection %s, then the package (null)", pulls, coll)
		}
	})
}

// TestCollectionReplicasRace runs two gateways on one PostgreSQL
// database and pulls each of several new images through both at once:
// each image gets exactly one package, with the id both replicas
// counted its pulls under.
func TestCollectionReplicasRace(t *testing.T) {
	db := testenv.Postgres(t)
	images := []string{"r0", "r1", "r2", "r3", "r4"}
	reg, digests := testRegistry(t, images...)
	a := startApp(t, collectionConfig(t, db))
	b := startApp(t, collectionConfig(t, db))
	tok, org := adminToken(t, a.App, "ops@acme.test")
	host := org + ".gw.test"
	coll := createCollection(t, a.App, tok, org, "images", dockerCollection(host, reg))
	deadline := time.Now().Add(5 * time.Second)
	for b.router.Table().Domain(host) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the other replica does not serve the collection")
		}
		time.Sleep(5 * time.Millisecond)
	}

	for _, img := range images {
		var wg sync.WaitGroup
		for _, r := range []*running{a, b} {
			wg.Go(func() {
				got, err := pull(r.gw.Addr().String(), host, "acme/"+img)
				if err != nil || got != digests["acme/"+img] {
					t.Errorf("pull acme/%s from %s: %v %v", img, r.gw.Addr(), got, err)
				}
			})
		}
		wg.Wait()
	}

	for _, r := range []*running{a, b} {
		got := listPackages(t, r.App, tok, org)
		ids := map[string]bool{}
		for _, p := range got {
			ids[p.ID] = true
		}
		for _, img := range images {
			if !ids[gateway.CollectionPackageID(coll, "acme/"+img)] {
				t.Errorf("replica %s lists no package for acme/%s: %+v", r.gw.Addr(), img, got)
			}
		}
		if len(got) != len(images) {
			t.Errorf("replica %s lists %d packages for %d images: %+v", r.gw.Addr(), len(got), len(images), got)
		}
	}
	sa, sb := a.control.creator.Stats(), b.control.creator.Stats()
	if sa.Created+sb.Created != uint64(len(images)) || sa.Refused+sb.Refused+sa.Failed+sb.Failed != 0 {
		t.Errorf("creations: %+v and %+v, want %d created in all and none refused or failed", sa, sb, len(images))
	}
	t.Logf("created %d and %d; found created by the other replica %d and %d", sa.Created, sb.Created, sa.Existing, sb.Existing)

	a.stop()
	b.stop()
	for _, r := range []*running{a, b} {
		pulls := 0
		for _, e := range parseEvents(t, r.events.String()) {
			if e.Kind != "docker" || e.Docker.Object == "ping" {
				continue
			}
			if want := gateway.CollectionPackageID(coll, e.Docker.Image); str(e.PackageID) != want {
				t.Errorf("replica %s: event of %s under %s, want %s", r.gw.Addr(), e.Docker.Image, str(e.PackageID), want)
			}
			if e.Docker.Pull {
				pulls++
			}
		}
		if pulls != len(images) {
			t.Errorf("replica %s recorded %d pulls, want %d", r.gw.Addr(), pulls, len(images))
		}
	}
}

// TestCollectionStoreOutage: a replica that cannot reach the database
// serves a collection's first pull and counts it under the derived id,
// also when restarted during the outage (from its local copy of the
// table); the package is created once the database answers again.
func TestCollectionStoreOutage(t *testing.T) {
	db := testenv.Postgres(t)
	reg, digests := testRegistry(t, "rocket")
	a := startApp(t, collectionConfig(t, db))
	proxy, viaProxy := testenv.PostgresProxy(t, db)
	bcfg := collectionConfig(t, viaProxy)
	bcfg.ReloadInterval = 200 * time.Millisecond
	b := startApp(t, bcfg)
	tok, org := adminToken(t, a.App, "ops@acme.test")
	host := org + ".gw.test"
	coll := createCollection(t, a.App, tok, org, "images", dockerCollection(host, reg))
	deadline := time.Now().Add(5 * time.Second)
	for b.router.Table().Domain(host) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the other replica does not serve the collection")
		}
		time.Sleep(5 * time.Millisecond)
	}

	proxy.Cut()
	mustPull(t, b.gw.Addr().String(), host, "acme/rocket", digests["acme/rocket"])
	want := gateway.CollectionPackageID(coll, "acme/rocket")
	if got := listPackages(t, a.App, tok, org); len(got) != 0 {
		t.Fatalf("a package was created while the database was away: %+v", got)
	}
	b.stop()
	before := b.events.String()
	b = startApp(t, bcfg)
	mustPull(t, b.gw.Addr().String(), host, "acme/rocket", digests["acme/rocket"])
	time.Sleep(500 * time.Millisecond) // a failed attempt or two
	proxy.Restore(t)

	deadline = time.Now().Add(30 * time.Second)
	for {
		got := listPackages(t, a.App, tok, org)
		if len(got) == 1 && got[0].ID == want {
			break
		}
		if len(got) > 1 || time.Now().After(deadline) {
			t.Fatalf("after the outage the API lists %+v, want the package %s", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The replica counts its creation once it has routed it, just
	// after the package became visible.
	for s := b.control.creator.Stats(); s.Failed == 0 || s.Created != 1 || s.Retrying != 0; s = b.control.creator.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("the replica's creations: %+v, want failed attempts, then one created", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.stop()
	pulls := 0
	for _, e := range parseEvents(t, before+b.events.String()) {
		if e.Kind == "docker" && e.Docker.Pull {
			pulls++
			if str(e.PackageID) != want {
				t.Errorf("a pull during the outage counts under %s, want %s", str(e.PackageID), want)
			}
		}
	}
	if pulls != 2 {
		t.Errorf("%d pulls recorded, want 2", pulls)
	}
}

// TestCollectionPackageLimit: a collection creates at most
// --collection-packages packages; further names are served and counted
// under their derived ids, and create nothing.
func TestCollectionPackageLimit(t *testing.T) {
	cfg := collectionConfig(t, "")
	cfg.Control.CollectionPackages = 2
	a := startApp(t, cfg)
	tok, org := adminToken(t, a.App, "ops@acme.test")
	host := org + ".gw.test"
	coll := createCollection(t, a.App, tok, org, "releases", map[string]any{"type": "file-v1", "domain": host,
		"incoming-path": "/{package}/{version}.tar.gz", "outgoing-url": "https://dl.test/{package}/{version}.tar.gz"})
	for _, n := range []string{"a", "b", "c"} {
		if st, loc := download(t, a.gw.Addr().String(), host, "/"+n+"/1.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/"+n+"/1.tar.gz" {
			t.Fatalf("download of %s: %d %q", n, st, loc)
		}
	}
	got := listPackages(t, a.App, tok, org)
	if len(got) != 2 {
		t.Fatalf("the API lists %+v, want two packages", got)
	}
	for _, p := range got {
		if p.Name == "c" {
			t.Errorf("the third name got a package past the limit: %+v", got)
		}
	}
	if s := a.control.creator.Stats(); s.Created != 2 || s.Refused != 1 {
		t.Errorf("creations: %+v, want 2 created and 1 refused", s)
	}
	a.stop()
	want := gateway.CollectionPackageID(coll, "c")
	found := false
	for _, e := range parseEvents(t, a.events.String()) {
		if e.Path == "/c/1.tar.gz" {
			found = str(e.PackageID) == want
		}
	}
	if !found {
		t.Errorf("the download past the limit is not counted under %s:\n%s", want, a.events.String())
	}
}

// TestCollectionPrecedence: a package of the collection's domain answers
// before the collection, whatever their order; the collection answers
// the rest.
func TestCollectionPrecedence(t *testing.T) {
	a := startApp(t, collectionConfig(t, ""))
	tok, org := adminToken(t, a.App, "ops@acme.test")
	host := org + ".gw.test"
	gw := a.gw.Addr().String()
	createCollection(t, a.App, tok, org, "releases", map[string]any{"type": "file-v1", "domain": host,
		"incoming-path": "/{package}/{version}.tar.gz", "outgoing-url": "https://dl.test/{package}/{version}.tar.gz"})
	// Less specific than the collection's template, and created after it.
	st, body := call(t, a.App, tok, "POST", "/api/v1/packages", map[string]any{"org": org, "name": "everything",
		"rule": map[string]any{"type": "file-v1", "domain": host, "incoming-path": "/{+path}", "outgoing-url": "https://mirror.test/{+path}"}})
	if st != http.StatusCreated {
		t.Fatalf("create package = %d %s", st, body)
	}
	if st, loc := download(t, gw, host, "/rocket/1.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://mirror.test/rocket/1.tar.gz" {
		t.Fatalf("download: %d %q, want the package's redirect", st, loc)
	}
	if got := listPackages(t, a.App, tok, org); len(got) != 1 {
		t.Fatalf("the collection created a package for a download a package served: %+v", got)
	}
	if st, body := call(t, a.App, tok, "DELETE", "/api/v1/packages/"+jsonField(t, body, "id"), nil); st != http.StatusNoContent {
		t.Fatalf("delete = %d %s", st, body)
	}
	if st, loc := download(t, gw, host, "/rocket/1.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/rocket/1.tar.gz" {
		t.Fatalf("download without the package: %d %q, want the collection's redirect", st, loc)
	}
	if got := listPackages(t, a.App, tok, org); len(got) != 1 || got[0].Name != "rocket" {
		t.Fatalf("the collection's download created %+v", got)
	}
}
