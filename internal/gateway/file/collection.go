package file

import (
	"fmt"
	"strconv"
	"strings"

	"portico/internal/manifest"
	"portico/internal/uritemplate"
)

// CollectionVar is the variable of a collection's template whose value
// names the package a download belongs to: the collection creates one
// package per value.
const CollectionVar = "package"

// maxCollectionName bounds a {package} value, as package names are
// bounded.
const maxCollectionName = 100

// NewCollection compiles the file-v1 rule of a collection. It serves as
// NewV1's rule does, but only requests whose {package} value is a
// possible package name (letters, digits, '.', '_' and '-', starting with
// a letter or digit), and counts each under the id of the package the
// collection creates for that value.
func NewCollection(r *manifest.FileV1, collection string) *V1 {
	v := NewV1(r)
	// The collection's id goes with the rarer shapes' fields: a
	// package's rule, the common one, stays as small as it is.
	if v.extra == nil {
		v.extra = new(v1Extra)
	}
	v.extra.collection = collection
	return v
}

// CheckCollection reports what keeps a file-v1 rule from being a
// collection's, with the field at fault: its incoming path needs a
// {package} variable, and every expression with that variable, in either
// template, must be {package} or {+package} alone, so that a package's
// own rule is the collection's with the value written in.
func CheckCollection(r *manifest.FileV1) (field string, err error) {
	found := false
	for _, v := range r.IncomingPath.Vars() {
		found = found || v == CollectionVar
	}
	if !found {
		return "incoming-path", fmt.Errorf("a collection's template needs a {%s} variable: its value names the packages the collection creates", CollectionVar)
	}
	if err := checkCollectionExprs(r.IncomingPath); err != nil {
		return "incoming-path", err
	}
	if r.OutgoingURL != nil {
		if err := checkCollectionExprs(r.OutgoingURL); err != nil {
			return "outgoing-url", err
		}
	}
	return "", nil
}

func checkCollectionExprs(t *uritemplate.Template) error {
	for _, p := range t.Parts() {
		if p.Expr == nil || !mentions(p.Expr, CollectionVar) {
			continue
		}
		if !collectionExpr(p.Expr) {
			return fmt.Errorf("%s: {%s} must be an expression of its own, {%s} or {+%s}, without modifiers: its value is written into the rules of the packages the collection creates",
				exprText(p.Expr), CollectionVar, CollectionVar, CollectionVar)
		}
	}
	return nil
}

func mentions(e *uritemplate.Expr, name string) bool {
	for _, v := range e.Vars {
		if v.Name == name {
			return true
		}
	}
	return false
}

// collectionExpr reports whether e is {package} or {+package}: for a
// package name, whose characters are all unreserved, both expand to the
// value as it is.
func collectionExpr(e *uritemplate.Expr) bool {
	return (e.Op == 0 || e.Op == '+') && len(e.Vars) == 1 && e.Vars[0].Name == CollectionVar &&
		!e.Vars[0].Explode && e.Vars[0].Prefix == 0
}

// CollectionPackage returns the file-v1 rule of the package that the
// collection whose rule is c creates for name, a {package} value: c with
// name written in place of {package} in both templates, so that the
// package answers exactly the requests of the collection that have that
// value, with the same targets.
func CollectionPackage(c *manifest.FileV1, name string) (*manifest.FileV1, error) {
	if !collectionName(name) {
		return nil, fmt.Errorf("%q cannot name a package: use letters, digits, '.', '_' and '-', starting with a letter or digit, at most %d bytes", name, maxCollectionName)
	}
	if field, err := CheckCollection(c); err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	in, err := uritemplate.Parse(withValue(c.IncomingPath, name))
	if err != nil {
		return nil, fmt.Errorf("incoming-path with %q: %w", name, err)
	}
	p := &manifest.FileV1{
		Base:             manifest.Base{Domain: c.Domain, Host: c.Host, Extensions: c.Extensions},
		IncomingPath:     in,
		AllowDotSegments: c.AllowDotSegments,
		Owner:            c.Owner,
	}
	if c.OutgoingURL != nil {
		if p.OutgoingURL, err = uritemplate.Parse(withValue(c.OutgoingURL, name)); err != nil {
			return nil, fmt.Errorf("outgoing-url with %q: %w", name, err)
		}
	}
	return p, nil
}

// withValue writes t with value in place of every {package} expression.
func withValue(t *uritemplate.Template, value string) string {
	var b strings.Builder
	for _, p := range t.Parts() {
		switch {
		case p.Expr == nil:
			b.WriteString(p.Literal)
		case collectionExpr(p.Expr):
			b.WriteString(value)
		default:
			b.WriteString(exprText(p.Expr))
		}
	}
	return b.String()
}

// exprText writes an expression as a template holds it.
func exprText(e *uritemplate.Expr) string {
	var b strings.Builder
	b.WriteByte('{')
	if e.Op != 0 {
		b.WriteByte(e.Op)
	}
	for i, v := range e.Vars {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(v.Name)
		if v.Explode {
			b.WriteByte('*')
		}
		if v.Prefix > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(v.Prefix))
		}
	}
	b.WriteByte('}')
	return b.String()
}

// collectionName reports whether s can name a package: the characters
// of package names (control.CheckPackageName), which are also unreserved
// in URIs, so that s reads the same as literal text in a template and
// can form no dot segment.
func collectionName(s string) bool {
	if s == "" || len(s) > maxCollectionName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// varValue returns the value first bound to name.
func varValue(vars []uritemplate.Var, name string) (string, bool) {
	for _, v := range vars {
		if v.Name == name {
			return v.Value, true
		}
	}
	return "", false
}
