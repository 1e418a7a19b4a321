package uritemplate

// Test vectors shared by the table tests and the fuzz seed corpora.

type matchCase struct {
	tmpl, in string
	want     []Var // nil with ok for a parse without defined variables
	ok       bool
}

func vs(kv ...string) []Var {
	var out []Var
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, Var{kv[i], kv[i+1]})
	}
	return out
}

var matchCases = []matchCase{
	// Section 5.3 worked examples.
	{"/{package}-{os}-{arch}", "/minikube-linux-amd64", vs("package", "minikube", "os", "linux", "arch", "amd64"), true},
	{"/{package}-{os}-{arch}", "/minikube-linux-amd64-hallo", vs("package", "minikube", "os", "linux", "arch", "amd64-hallo"), true},
	{"/{package}-{os}-{arch}", "/minikube", nil, false},
	{"/{package}-{os}-{arch}", "/minikube-linux", nil, false},
	{"/{package}-{version}.{ext}", "/minikube-1.0.tar.gz", vs("package", "minikube", "version", "1", "ext", "0.tar.gz"), true},
	{"/{a}/{b}", "/api/data", vs("a", "api", "b", "data"), true},
	{"/{a}/{b}", "/api/data/more", nil, false},
	{"/{+a}/{b}", "/api/data/more", vs("a", "api/data", "b", "more"), true},
	{"/{+path}", "/a%2Fb/c%20d+e", vs("path", "a/b/c d+e"), true},
	{"/{a}{b}", "/x%20y", vs("a", "x y", "b", ""), true},
	{"/dl{?version,os}", "/dl?version=1&os=linux", vs("version", "1", "os", "linux"), true},
	{"/dl{?version,os}", "/dl?os=linux&version=1", nil, false},

	// Section 5.3 rules and practical consequences.
	{"/{a}", "/x,", vs("a", "x"), true},
	{"/x{?a}", "/x", nil, true},
	{"/x{?a}", "/x?", nil, false},
	{"/x{?a}", "/x?a=", vs("a", ""), true},
	{"/{v}/{v}", "/a/a", vs("v", "a"), true},
	{"/{v}/{v}", "/a/b", nil, false},
	{"/{v}/{v}", "/a/", nil, false},
	{"/café", "/caf%C3%A9", nil, true},
	{"/café", "/caf%c3%a9", nil, false},
	{"/café", "/café", nil, false},
	{"/{v}", "/%FF", nil, false},
	{"/{v}", "/%2", nil, false},
	{"/{+v}", "/%FF", nil, false},
	{"/{+v}", "/a%2", nil, false},
	{"/{v}x", "/%2x", nil, false},
	{"/{v}", "/%C3", nil, false},
	{"/{v}", "/%c3%a9", vs("v", "é"), true},
	{"/{v}", "/1.0+build", nil, false},
	{"/{v}", "/a:b", nil, false},
	{"/{v}", "/a@b", nil, false},
	{"/{v}", "/a!b", nil, false},
	{"/{v}", "/a,b", nil, false},
	{"/{+v}", "/1.0+build", vs("v", "1.0+build"), true},
	{"/{+v}", "/a/b?c#d&e=f", vs("v", "a/b?c#d&e=f"), true},
	{"/{v}", "/a%20b", vs("v", "a b"), true},
	{"/{v}", "/a%2Fb", vs("v", "a/b"), true},
	{"/{+v}", "/a%3Fb", vs("v", "a?b"), true},
	{"/some-nice-path/{v}", "/some-nice-path/", vs("v", ""), true},
	{"/some-nice-path/{v}", "/some-nice-path", nil, false},
	{"/{v}", "/é", nil, false},

	// Burrito's documentation examples.
	{"{a}{b}", "ab", vs("a", "a", "b", "b"), true},
	{"{one}-match", "1-match", vs("one", "1"), true},
	{"no-variables", "no-variables", nil, true},
	{"no-match", "", nil, false},

	// Operators.
	{"/file{.ext}", "/file.tar.gz", vs("ext", "tar.gz"), true},
	{"/file{.ext}", "/file", nil, true},
	{"/file{.ext}", "/file.", vs("ext", ""), true},
	{"{/x,y}", "/a/b", vs("x", "a", "y", "b"), true},
	{"{/x,y}", "/a", vs("x", "a"), true},
	{"{x,y}", "a,b", vs("x", "a", "y", "b"), true},
	{"{x,y}", "a,", vs("x", "a", "y", ""), true},
	{"{x,y}", "", vs("x", ""), true},
	{"{+x,y}", "a/b,c", vs("x", "a/b", "y", "c"), true},
	{"/a{#f}", "/a#sec/x", vs("f", "sec/x"), true},
	{"/a{#f}", "/a", nil, true},
	{"{;x,y}", ";x=1;y=2", vs("x", "1", "y", "2"), true},
	{"{;x,y}", ";x;y", vs("x", "", "y", ""), true},
	{"{;x,y}", ";y=2", vs("y", "2"), true},
	{"{;x}", ";", nil, false},
	{"{?x}", "?y=1", nil, false},
	{"{?x,y}", "?y=2", vs("y", "2"), true},
	{"{&x}", "&x=1", vs("x", "1"), true},
	{"/p{?x}{&y}", "/p?x=1&y=2", vs("x", "1", "y", "2"), true},
	{"{?x}", "?x=a%20b", vs("x", "a b"), true},
	{"{?x}", "?x=a/b", nil, false},
	{"{?%41}", "?%41=1", vs("%41", "1"), true},
	{"{?%41}", "?A=1", nil, false},
	{"{?a.b}", "?a.b=1", vs("a.b", "1"), true},

	// Modifiers: explode never takes a value except through the bare
	// name of ';'; ":N" does not limit the length.
	{"{x*}", "abc", nil, false},
	{"{x*}", "", nil, true},
	{"{x*,y}", "abc", vs("y", "abc"), true},
	{"{?x*}", "?x=1", nil, false},
	{"{;x*}", ";x", vs("x", ""), true},
	{"{;x*}", ";x=1", nil, false},
	{"{x:2}", "abcdef", vs("x", "abcdef"), true},
	{"{;x:2}", ";x", vs("x", ""), true},

	// Repeated names: consistent, with Burrito's rules for ":N".
	{"{v}-{v}", "a-a", vs("v", "a"), true},
	{"{v}-{v}", "a-b", nil, false},
	{"{x}/{x:2}", "abc/ab", vs("x", "abc"), true},
	{"{x}/{x:2}", "abc/abc", nil, false},
	{"{x:2}/{x}", "ab/abc", vs("x", "abc"), true},
	{"{x:2}/{x:3}", "abz/abc", vs("x", "abc"), true},
	{"{x:2}/{x:3}", "axz/abc", nil, false},
	{"{a}{x}{a}", "aba", vs("a", "a", "x", "b"), true},
	{"{?x}{x}", "", nil, true},
	{"{?x}{x}", "?x=1", nil, false},
	{"{?x}{x}", "?x=11", vs("x", "1"), true},

	// Literal forms.
	{"/a%2fb", "/a%2fb", nil, true},
	{"/a%2fb", "/a%2Fb", nil, false},
	{"/a%2fb", "/a/b", nil, false},
	// The end inside the encoded run comes before the end of any run.
	{"/{x}%2F{y}", "/a%2F%2Fb", vs("x", "a/", "y", "b"), true},
	{"", "", nil, true},
	{"", "x", nil, false},
}

type expandCase struct {
	tmpl string
	vars []Var
	want string
	ok   bool
}

var expandCases = []expandCase{
	// Section 5.2 examples.
	{"https://output.com/{variable}", vs("variable", "really+nice"), "https://output.com/really%2Bnice", true},
	{"{+path}", vs("path", "a/b?c d%e"), "a/b?c%20d%25e", true},
	{"{path}", vs("path", "a/b?c d%e"), "a%2Fb%3Fc%20d%25e", true},
	{"{v}", vs("v", "é"), "%C3%A9", true},

	// Operator framing.
	{"{x,y}", vs("x", "1", "y", "2"), "1,2", true},
	{"{+x,y}", vs("x", "a/b", "y", "c"), "a/b,c", true},
	{"{#x,y}", vs("x", "a/b", "y", "c"), "#a/b,c", true},
	{"{.x,y}", vs("x", "a", "y", "b"), ".a.b", true},
	{"{/x,y}", vs("x", "a", "y", "b/c"), "/a/b%2Fc", true},
	{"{;x,y}", vs("x", "1", "y", ""), ";x=1;y", true},
	{"{?x,y}", vs("x", "1", "y", ""), "?x=1&y=", true},
	{"{&x}", vs("x", "a b"), "&x=a%20b", true},
	{"{?x}", vs("x", ""), "?x=", true},
	{"{.x}", vs("x", ""), ".", true},
	{"{x:3}", vs("x", "abcdef"), "abc", true},
	{"{x:1}", vs("x", "éa"), "%C3%A9", true},
	{"{x*}", vs("x", "a,b"), "a%2Cb", true},
	{"{?%41}", vs("%41", "1"), "?%41=1", true},
	{"{x}{x}", vs("x", "A"), "AA", true},
	{"{x}", vs("x", "1", "x", "2"), "1", true},
	{"{x}", vs("x", "\xff"), "%FF", true},

	// Literals: non-ASCII encoded, %HH verbatim.
	{"/café/%2f", nil, "/caf%C3%A9/%2f", true},
	{"/static", nil, "/static", true},

	// A missing variable fails the whole expansion.
	{"/{a}/{b}", vs("a", "1"), "", false},
	{"/{a}", nil, "", false},
}

type syntaxCase struct {
	tmpl string
	col  int
	msg  string
}

var syntaxCases = []syntaxCase{
	{"/a b", 3, "invalid character ' ' in literal"},
	{"/{a b}", 4, "invalid character ' ' in expression"},
	{"/{}", 2, "empty expression"},
	{"/{a", 2, "unclosed '{'"},
	{"{", 1, "unclosed '{'"},
	{"{a:", 1, "unclosed '{'"},
	{"{a,", 1, "unclosed '{'"},
	{"/a}", 3, "unmatched '}'"},
	{"/%zz", 2, "invalid percent-encoding"},
	{"/%2", 2, "invalid percent-encoding"},
	{"{a%zz}", 3, "invalid percent-encoding"},
	{"{a:0}", 4, "prefix length must be 1..9999"},
	{"{a:10000}", 4, "prefix length must be 1..9999"},
	{"{a:01}", 4, "prefix length must be 1..9999"},
	{"{a:}", 4, "prefix length must be 1..9999"},
	{"{a:1x}", 5, "invalid character 'x' in expression"},
	{"{=a}", 2, "reserved operator '='"},
	{"{|a}", 2, "reserved operator '|'"},
	{"{,a}", 2, "reserved operator ','"},
	{"{a,}", 4, "invalid variable name"},
	{"{a.}", 4, "invalid variable name"},
	{"{a..b}", 4, "invalid variable name"},
	{"{.}", 3, "invalid variable name"},
	{"{+}", 3, "invalid variable name"},
	{"{ a}", 2, "invalid variable name"},
	{"{a-b}", 3, "invalid character '-' in expression"},
	{"{a*b}", 4, "invalid character 'b' in expression"},
	{"{a*:2}", 4, "invalid character ':' in expression"},
	{"é{ }", 3, "invalid variable name"},
	{"/é b", 3, "invalid character ' ' in literal"},
	{"/<", 2, "invalid character '<' in literal"},
	{"a\tb", 2, "invalid character '\\t' in literal"},
	{"a\u0085", 2, "invalid character '\\u0085' in literal"},
	{"\ufffe", 1, "invalid character '\\ufffe' in literal"},
	{"\U000e0001", 1, "invalid character '\\U000e0001' in literal"},
	{"a\xffb", 2, "invalid UTF-8 byte 0xFF"},
	{"{{a}}", 2, "invalid variable name"},
	{"/{a}}", 5, "unmatched '}'"},
}

var validTemplates = []string{
	"",
	"/",
	"{a.b}",
	"{%41}",
	"{a_1,B2}",
	"{x:9999}",
	"{x*}",
	"{+a}{#b}{.c}{/d}{;e}{?f}{&g}",
	"/é",
	"/\U00010000",
	"/\ue000",
	"/%2f",
	"!$&()*+,;=:/?#[]@-._~",
	"{a.b.c,d%2F}",
	"https://example.com/{+path}{?q,lang}",
}

var capturesCases = []struct {
	tmpl string
	want bool
}{
	// Section 5.4.
	{"/{+path}", false},
	{"/data", false},
	{"/data?", false},
	{"/data?x={x}", true},
	{"/dl{?version}", true},
	// More.
	{"/x?{y}", true},
	{"/x{&y}", false},
	{"/a#b?c={c}", false},
	{"/a{#b}?c", false},
	{"https://h.example/p?x={x}", true},
	{"https://h.example:80/p?x", true},
	{"//h.example/p?x", true},
	{"/a[?x=1", false},
	{"a:b?x", true},
	{"/a?x={x}#{y}", true},
	{"/a?{x}", true},
}

// sortKeyCases are the file-v1 specificity keys of section 3.3, in the
// order the rules sort (descending).
var sortKeyCases = [][2]string{
	{"/something-here/windows/ver1.0.tar.gz", "/avisstoragebox/{platform}/{version}"},
	{"/downloads/x.tgz", "/downloads/{f}"},
	{"/b", "/a/{x}"},
	{"/avisstoragebox/{platform}/{version}", "/{+path}"},
}
