package control

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"portico/internal/manifest"
	"portico/internal/store"
)

// ChallengeLabel is the label of the TXT record that proves a domain's
// ownership: _portico-challenge.<domain> must hold the domain's
// challenge.
const ChallengeLabel = "_portico-challenge"

// A Resolver looks up the records that verify a domain; *net.Resolver is
// one.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupCNAME(ctx context.Context, host string) (string, error)
}

// DomainPolicy says how custom domains are verified.
type DomainPolicy struct {
	Resolver Resolver
	// CNAMETarget, when set, is the host every custom domain must be a
	// CNAME of (the gateway's public name).
	CNAMETarget string
	// FailingGrace is how long a verified domain may keep failing its
	// checks and still route. One failed lookup never unroutes a live
	// domain; only failures for this long do.
	FailingGrace time.Duration
}

// DefaultFailingGrace is the default DomainPolicy.FailingGrace.
const DefaultFailingGrace = 72 * time.Hour

// A Record is a DNS record a domain's owner must create.
type Record struct {
	Type  string // "TXT" or "CNAME"
	Name  string
	Value string
}

// A DomainView is a domain with the records that verify it.
type DomainView struct {
	Domain
	Org     string
	Records []Record
	// Implicit is set for an organization's domain under the base
	// domain, which needs no records and cannot be removed.
	Implicit bool
}

func (s *Service) domainView(d Domain, org string) DomainView {
	v := DomainView{Domain: d, Org: org}
	if d.Trusted() {
		return v
	}
	v.Records = append(v.Records, Record{Type: "TXT", Name: ChallengeLabel + "." + d.Name, Value: d.Challenge})
	if s.domains.CNAMETarget != "" {
		v.Records = append(v.Records, Record{Type: "CNAME", Name: d.Name, Value: s.domains.CNAMETarget})
	}
	return v
}

// newChallenge returns a random challenge value: 160 bits in lower-case
// base32, which survives every DNS console unchanged.
func newChallenge() string {
	var b [20]byte
	rand.Read(b[:])
	return "portico-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// CheckDomainName normalizes a custom domain name: a host name (not an
// address), without port or trailing dot, with at least two labels.
func CheckDomainName(name string) (string, error) {
	host, err := manifest.HostKey(name)
	if err != nil {
		return "", err
	}
	if strings.ContainsRune(name, ':') || net.ParseIP(host) != nil {
		return "", fmt.Errorf("%q: give a host name without a port, not an address", name)
	}
	if !strings.Contains(host, ".") {
		return "", fmt.Errorf("%q: give a fully qualified name such as get.example.com", name)
	}
	for label := range strings.SplitSeq(host, ".") {
		if len(label) > 63 {
			return "", fmt.Errorf("%q: a label is longer than 63 characters", name)
		}
	}
	return host, nil
}

// ListDomains lists the domains of the organizations the principal may
// read, or of one organization, by name, each organization's domain
// under the base domain among them.
func (s *Service) ListDomains(ctx context.Context, p Principal, org string, pg Page) ([]DomainView, error) {
	pg = page(pg)
	var out []DomainView
	err := s.store.View(ctx, func(tx Tx) error {
		var orgs []Org
		if org != "" {
			o, _, err := readableOrg(ctx, tx, p, org)
			if err != nil {
				return err
			}
			orgs = []Org{o}
		} else {
			var err error
			if orgs, err = s.readableOrgs(ctx, tx, p); err != nil {
				return err
			}
		}
		var ds []Domain
		if org == "" && p.User.ServerAdmin {
			var err error
			if ds, err = tx.ListDomains(ctx, "", pg); err != nil {
				return err
			}
		} else {
			// A user belongs to few organizations: each gives its
			// first page after the cursor, and the merge's first page
			// is the page.
			for _, o := range orgs {
				some, err := tx.ListDomains(ctx, o.ID, pg)
				if err != nil {
					return err
				}
				ds = append(ds, some...)
			}
		}
		names := make(map[string]string, len(orgs))
		implicit := map[string]bool{}
		for _, o := range orgs {
			names[o.ID] = o.Name
			// The domains under the base domain are not stored: they
			// join the list where their names fall.
			if s.base != "" {
				if name := o.Name + "." + s.base; name > pg.After {
					ds = append(ds, Domain{Name: name, OrgID: o.ID, Status: DomainVerified, Created: o.Created, Verified: o.Created})
					implicit[name] = true
				}
			}
		}
		slices.SortFunc(ds, func(a, b Domain) int { return strings.Compare(a.Name, b.Name) })
		ds = ds[:min(len(ds), pg.Limit)]
		for _, d := range ds {
			name, ok := names[d.OrgID]
			if !ok {
				o, err := tx.Org(ctx, d.OrgID)
				if err != nil {
					return err
				}
				name = o.Name
				names[d.OrgID] = name
			}
			if implicit[d.Name] {
				out = append(out, DomainView{Domain: d, Org: name, Implicit: true})
				continue
			}
			out = append(out, s.domainView(d, name))
		}
		return nil
	})
	return out, err
}

// readableDomain finds a custom domain p may read.
func readableDomain(ctx context.Context, tx Tx, p Principal, name string) (Domain, Org, Access, error) {
	host, err := CheckDomainName(name)
	if err != nil {
		return Domain{}, Org{}, Access{}, NotFound("domain " + quote(name))
	}
	d, err := tx.Domain(ctx, host)
	if err != nil {
		return Domain{}, Org{}, Access{}, translate(err, "domain "+quote(host))
	}
	a, err := orgAccess(ctx, tx, p, d.OrgID)
	if err != nil {
		return Domain{}, Org{}, Access{}, err
	}
	if !a.CanRead() {
		return Domain{}, Org{}, Access{}, NotFound("domain " + quote(host))
	}
	o, err := tx.Org(ctx, d.OrgID)
	return d, o, a, err
}

// GetDomain returns a domain the principal may read.
func (s *Service) GetDomain(ctx context.Context, p Principal, name string) (DomainView, error) {
	var v DomainView
	err := s.store.View(ctx, func(tx Tx) error {
		d, o, _, err := readableDomain(ctx, tx, p, name)
		v = s.domainView(d, o.Name)
		return err
	})
	return v, err
}

// AddDomain adds a custom domain to an organization, pending until its
// records are verified. The operator may add it verified (a domain it
// trusts, or one whose records it checked itself). httpsOnly is the
// domain's setting (SetDomainHTTPSOnly).
func (s *Service) AddDomain(ctx context.Context, p Principal, org, name string, verified, httpsOnly bool) (DomainView, error) {
	if err := needWrite(p); err != nil {
		return DomainView{}, err
	}
	host, err := CheckDomainName(name)
	if err != nil {
		return DomainView{}, Invalid("name", "%v", err)
	}
	if s.base != "" && (host == s.base || strings.HasSuffix(host, "."+s.base)) {
		return DomainView{}, Invalid("name", "%q is under the base domain %q, whose names belong to the organizations of the same name", host, s.base)
	}
	if verified && !p.User.ServerAdmin {
		return DomainView{}, Forbidden("only server administrators add domains without verification")
	}
	now := s.now().UTC()
	d := Domain{Name: host, Status: DomainPending, Challenge: newChallenge(), Created: now, HTTPSOnly: httpsOnly}
	if verified {
		// A trusted domain has no challenge: nothing is checked, so no
		// missing record ever unroutes it.
		d.Status, d.Verified, d.Challenge = DomainVerified, now, ""
	}
	var v DomainView
	err = s.update(ctx, func(tx Tx) error {
		o, a, err := readableOrg(ctx, tx, p, org)
		if err != nil {
			return err
		}
		if !a.CanEdit() {
			return Forbidden("adding domains takes an Admin or Owner of the organization")
		}
		d.OrgID = o.ID
		if err := tx.CreateDomain(ctx, d); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return Conflict("name", "the domain %q has been added already", host)
			}
			return err
		}
		if verified {
			tx.RoutingChanged()
		}
		v = s.domainView(d, o.Name)
		return nil
	})
	return v, err
}

// SetDomainHTTPSOnly turns a custom domain's https-only setting on or
// off: with it, the gateway redirects every plain HTTP request to the
// domain to HTTPS. An organization's domain under the base domain has no
// setting of its own; its packages' rules carry "https-only".
func (s *Service) SetDomainHTTPSOnly(ctx context.Context, p Principal, name string, on bool) (DomainView, error) {
	if err := needWrite(p); err != nil {
		return DomainView{}, err
	}
	if host, err := CheckDomainName(name); err == nil && s.base != "" && strings.HasSuffix(host, "."+s.base) {
		return DomainView{}, Invalid("https_only", "%q is an organization's domain under the base domain: set \"https-only\" on the rules of its packages instead", host)
	}
	var v DomainView
	err := s.update(ctx, func(tx Tx) error {
		d, o, a, err := readableDomain(ctx, tx, p, name)
		if err != nil {
			return err
		}
		if !a.CanEdit() {
			return Forbidden("changing domains takes an Admin or Owner of the organization")
		}
		if d.HTTPSOnly != on {
			d.HTTPSOnly = on
			if err := tx.UpdateDomain(ctx, d); err != nil {
				return err
			}
			tx.RoutingChanged()
		}
		v = s.domainView(d, o.Name)
		return nil
	})
	return v, err
}

// RemoveDomain removes a custom domain. A domain that packages serve is
// refused: move or delete them first.
func (s *Service) RemoveDomain(ctx context.Context, p Principal, name string) error {
	if err := needWrite(p); err != nil {
		return err
	}
	return s.update(ctx, func(tx Tx) error {
		d, _, a, err := readableDomain(ctx, tx, p, name)
		if err != nil {
			return err
		}
		if !a.CanDelete(false) {
			return Forbidden("removing domains takes an Admin or Owner of the organization")
		}
		pkgs, err := tx.ListPackages(ctx, PackageFilter{Host: d.Name}, Page{Limit: 1})
		if err != nil {
			return err
		}
		if len(pkgs) > 0 {
			return Conflict("name", "package %q (%s) serves %q: move or delete it first", pkgs[0].Name, pkgs[0].ID, d.Name)
		}
		tx.RoutingChanged()
		return tx.DeleteDomain(ctx, d.Name)
	})
}

// VerifyDomain checks a domain's records now and records the result.
func (s *Service) VerifyDomain(ctx context.Context, p Principal, name string) (DomainView, error) {
	if err := needWrite(p); err != nil {
		return DomainView{}, err
	}
	var d Domain
	var o Org
	err := s.store.View(ctx, func(tx Tx) error {
		var a Access
		var err error
		if d, o, a, err = readableDomain(ctx, tx, p, name); err != nil {
			return err
		}
		if !a.CanEdit() {
			return Forbidden("verifying domains takes an Admin or Owner of the organization")
		}
		return nil
	})
	if err != nil {
		return DomainView{}, err
	}
	if d.Trusted() {
		return s.domainView(d, o.Name), nil
	}
	d, err = s.checkDomain(ctx, d)
	return s.domainView(d, o.Name), err
}

// checkDomain looks the domain's records up, and stores the outcome: the
// new status, the time and what was wrong.
func (s *Service) checkDomain(ctx context.Context, d Domain) (Domain, error) {
	if s.domains.Resolver == nil {
		return d, errors.New("no resolver to verify domains with")
	}
	lookupCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	problem := s.lookupRecords(lookupCtx, d)
	cancel()
	now := s.now().UTC()
	err := s.update(ctx, func(tx Tx) error {
		cur, err := tx.Domain(ctx, d.Name)
		if err != nil {
			return translate(err, "domain "+quote(d.Name))
		}
		if cur.Challenge != d.Challenge || cur.OrgID != d.OrgID {
			return Conflict("", "the domain %q changed while it was checked", d.Name)
		}
		before := cur.Status
		next := nextStatus(cur, problem, now, s.domains.FailingGrace)
		if next.Status.Routes() != before.Routes() {
			tx.RoutingChanged()
		}
		d = next
		return tx.UpdateDomain(ctx, next)
	})
	if err == nil && d.Status != DomainVerified {
		s.log.Info("domain check failed", "domain", d.Name, "status", d.Status.String(), "problem", problem)
	}
	return d, err
}

// nextStatus is a domain after a check at now that found problem ("" if
// none).
func nextStatus(d Domain, problem string, now time.Time, grace time.Duration) Domain {
	if grace <= 0 {
		grace = DefaultFailingGrace
	}
	wasFailing := d.Status == DomainFailing
	d.LastError = problem
	switch {
	case problem == "":
		d.Status = DomainVerified
		if d.Verified.IsZero() {
			d.Verified = now
		}
		d.FailingSince = time.Time{}
	case d.Status == DomainPending:
	case !wasFailing:
		d.Status, d.FailingSince = DomainFailing, now
	case now.Sub(d.FailingSince) >= grace:
		d.Status, d.FailingSince = DomainPending, time.Time{}
	}
	d.LastCheck = now
	return d
}

// lookupRecords returns what is wrong with d's records, or "".
func (s *Service) lookupRecords(ctx context.Context, d Domain) string {
	name := ChallengeLabel + "." + d.Name
	txts, err := s.domains.Resolver.LookupTXT(ctx, name)
	if err != nil {
		return fmt.Sprintf("looking up TXT %s: %v", name, lookupError(err))
	}
	if !slices.Contains(txts, d.Challenge) {
		return fmt.Sprintf("TXT %s does not hold %s (found %d other value(s))", name, d.Challenge, len(txts))
	}
	if t := s.domains.CNAMETarget; t != "" {
		cname, err := s.domains.Resolver.LookupCNAME(ctx, d.Name)
		if err != nil {
			return fmt.Sprintf("looking up CNAME %s: %v", d.Name, lookupError(err))
		}
		if !strings.EqualFold(strings.TrimSuffix(cname, "."), strings.TrimSuffix(t, ".")) {
			return fmt.Sprintf("%s is a CNAME of %s, not of %s", d.Name, strings.TrimSuffix(cname, "."), t)
		}
	}
	return ""
}

// lookupError shortens a resolver error to what the owner can act on.
func lookupError(err error) string {
	if dnsErr, ok := errors.AsType[*net.DNSError](err); ok {
		switch {
		case dnsErr.IsNotFound:
			return "no such record"
		case dnsErr.IsTimeout:
			return "the lookup timed out"
		}
		return dnsErr.Err
	}
	return err.Error()
}

// DeleteExpired deletes the sessions and sign-in links that expired.
func (s *Service) DeleteExpired(ctx context.Context) error {
	return s.store.Update(ctx, func(tx Tx) error { return tx.DeleteExpired(ctx, s.now()) })
}

// RecheckDomains checks every custom domain whose last check is older
// than every (trusted domains excepted), and returns how many it checked. The gateway runs it
// periodically; pending domains are checked too, so that one whose
// records appear is verified without anyone asking.
func (s *Service) RecheckDomains(ctx context.Context, every time.Duration) (int, error) {
	var due []Domain
	cutoff := s.now().Add(-every)
	err := s.store.View(ctx, func(tx Tx) error {
		for pg := (Page{Limit: MaxLimit}); ; {
			ds, err := tx.ListDomains(ctx, "", pg)
			if err != nil {
				return err
			}
			for _, d := range ds {
				if !d.Trusted() && d.LastCheck.Before(cutoff) {
					due = append(due, d)
				}
			}
			if len(ds) < pg.Limit {
				return nil
			}
			pg.After = ds[len(ds)-1].Name
		}
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range due {
		if ctx.Err() != nil {
			break
		}
		if _, err := s.checkDomain(ctx, d); err != nil && KindOf(err) == 0 {
			return n, err
		}
		n++
	}
	return n, ctx.Err()
}
