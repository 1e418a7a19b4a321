package badge

// An Endpoint is a badge in the JSON form of shields.io's endpoint badge
// (schema version 1), for those who draw their badges through
// shields.io: https://img.shields.io/endpoint?url=… reads it and draws
// the badge. It holds only the schema's fields, since shields refuses
// others.
type Endpoint struct {
	SchemaVersion int    `json:"schemaVersion"`
	Label         string `json:"label"`
	Message       string `json:"message"`
	Color         string `json:"color,omitempty"`
	LabelColor    string `json:"labelColor,omitempty"`
	IsError       bool   `json:"isError,omitempty"`
	NamedLogo     string `json:"namedLogo,omitempty"`
	// LogoColor is only allowed with NamedLogo.
	LogoColor    string `json:"logoColor,omitempty"`
	Style        string `json:"style,omitempty"`
	CacheSeconds int    `json:"cacheSeconds,omitempty"`
}

// Endpoint returns the badge in the endpoint's form. Colours keep their
// names, which shields knows; the style is given when it is not the
// default.
func (b Badge) Endpoint() Endpoint {
	e := Endpoint{
		SchemaVersion: 1,
		Label:         Clean(b.Label),
		Message:       Clean(b.Message),
		Color:         string(b.Color.or(BrightGreen)),
		LabelColor:    string(b.LabelColor),
	}
	if b.Logo != NoLogo {
		e.NamedLogo = b.Logo.String()
		e.LogoColor = string(b.LogoColor)
	}
	if b.Style != Flat {
		e.Style = b.Style.String()
	}
	return e
}
