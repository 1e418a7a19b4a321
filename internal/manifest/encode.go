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
		o := ruleObject(r)
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
