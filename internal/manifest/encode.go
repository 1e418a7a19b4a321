package manifest

import (
	"bytes"
	"encoding/json"
)

// Encode writes m as an indented manifest that Decode reads back to an
// equal manifest. Optional fields that are absent are left out; docker-v1
// rules always carry package-name and owner, as Scarf Gateway writes them.
func Encode(m *Manifest) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"rules":[`)
	for i, r := range m.Rules {
		if i > 0 {
			b.WriteByte(',')
		}
		o := &object{}
		o.add("type", r.Type())
		c := r.Common()
		o.add("domain", c.Domain)
		encodeRule(o, r)
		for _, k := range sortedKeys(c.Extensions) {
			o.raw(k, c.Extensions[k])
		}
		if err := o.writeTo(&b); err != nil {
			return nil, err
		}
	}
	b.WriteByte(']')
	for _, k := range sortedKeys(m.Extensions) {
		b.WriteByte(',')
		key, _ := json.Marshal(k)
		b.Write(key)
		b.WriteByte(':')
		b.Write(m.Extensions[k])
	}
	b.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func encodeRule(o *object, r Rule) {
	switch r := r.(type) {
	case *DockerV1:
		o.add("package-id", r.PackageID)
		o.add("repository-name", r.RepositoryName)
		o.add("registry", r.Registry.Text)
		o.flag("always-proxy", r.AlwaysProxy)
		o.add("package-name", r.PackageName)
		o.add("owner", r.Owner)
	case *DockerV2:
		o.add("pattern", r.PatternText)
		o.add("rule-id", r.RuleID)
		o.add("registry", r.Registry.Text)
		o.flag("always-proxy", r.AlwaysProxy)
		o.opt("owner", r.Owner)
	case *FileV1:
		o.add("incoming-path", r.IncomingPath.String())
		if r.OutgoingURL != nil {
			o.add("outgoing-url", r.OutgoingURL.String())
		} else {
			o.add("outgoing-url", nil)
		}
		o.add("package-id", r.PackageID)
		o.opt("package-name", r.PackageName)
		o.opt("owner", r.Owner)
	case *FileV2:
		o.add("incoming-path", r.IncomingPath)
		if r.OutgoingURL != nil {
			o.add("outgoing-url", r.OutgoingURL.String())
		} else {
			o.add("outgoing-url", nil)
		}
		o.add("package-id", r.PackageID)
		o.opt("package-name", r.PackageName)
		o.opt("owner", r.Owner)
	case *PythonV1:
		o.add("package-name", r.PackageName)
		o.add("file-name", r.FileName)
		o.add("version", r.Version)
		o.add("backend-url", r.BackendURL)
		o.add("package-id", r.PackageID)
		if r.HashValue != nil {
			o.add("hash-value", r.HashValue)
		}
		if r.GPGSig != nil {
			o.add("gpg-sig", *r.GPGSig)
		}
		if r.RequiresPython != nil {
			o.add("requires-python", *r.RequiresPython)
		}
		o.add("backend-simple-index-url", r.BackendSimpleIndexURL)
		o.opt("owner", r.Owner)
	case *CatchAll:
		o.add("package-id", r.PackageID)
		o.opt("redirect-target-domain", r.RedirectTargetDomain)
		o.opt("package-name", r.PackageName)
		o.opt("owner", r.Owner)
	case *Telemetry:
		o.add("incoming-path", r.IncomingPath)
		o.add("package-id", r.PackageID)
		if r.AccessTokens != nil {
			o.add("access-tokens", r.AccessTokens)
		}
	case *Pixel:
		o.opt("package-id", r.PackageID)
	case *ScarfJS:
		o.opt("package-id", r.PackageID)
	}
}

// object writes a JSON object with its keys in insertion order.
type object struct {
	keys []string
	vals []json.RawMessage
	err  error
}

func (o *object) add(k string, v any) {
	b, err := json.Marshal(v)
	if err != nil && o.err == nil {
		o.err = err
	}
	o.raw(k, b)
}

func (o *object) raw(k string, v json.RawMessage) {
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
}

func (o *object) opt(k, v string) {
	if v != "" {
		o.add(k, v)
	}
}

func (o *object) flag(k string, v bool) {
	if v {
		o.add(k, true)
	}
}

func (o *object) writeTo(b *bytes.Buffer) error {
	if o.err != nil {
		return o.err
	}
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		b.Write(key)
		b.WriteByte(':')
		b.Write(o.vals[i])
	}
	b.WriteByte('}')
	return nil
}
