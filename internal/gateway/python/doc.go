// Package python serves Python package indexes (PEP 503 "simple"
// repositories) built from python-v1 rules: every python-v1 rule of a
// domain names one distribution file, and together they form the
// repository. Index pages are rendered once when the rules are compiled;
// a download redirects to the file's backend URL.
package python
