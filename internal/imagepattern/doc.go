// Package imagepattern parses and matches the container image patterns of
// Scarf Gateway's docker-v2 rules, such as "library/*" or
// "l*n*k*er/d{1,2,3,4,5}".
//
// # Syntax
//
// A pattern is one or more segments separated by '/'. An image such as
// "library/nginx" is matched segment by segment, so "library/*" matches
// "library/nginx" but neither "library" nor "library/nginx/extra". Each
// segment is a non-empty sequence of pieces:
//
//   - '*' matches any run of characters, possibly empty, within one segment.
//   - '{alt1,alt2,...}' is a union. Each alternative is itself a non-empty
//     sequence of pieces, so unions nest. A union never spans a '/'.
//   - Anything else is a literal. The characters * { } , \ are written
//     escaped with a backslash; '/' cannot appear in a literal. Spaces and
//     other characters are literal, so "lin{t, ker}" has the alternatives
//     "t" and " ker".
//
// Matching is case-sensitive and compares bytes, which for valid UTF-8 is
// the same as comparing characters.
//
// [Pattern.String] prints the canonical form, which re-escapes literal
// special characters; parsing it again yields an equivalent pattern.
//
// # Differences from Scarf
//
// Everything else follows Scarf's ImagePattern module, except for two
// deliberate fixes:
//
//  1. Scarf's parser stops at the first character that cannot start a piece
//     and silently drops the rest, so "library}" means "library", "a,b"
//     means "a" and "a\b" means "a". A manifest author who wrote one of these
//     almost certainly meant something else, so [Parse] rejects any input it
//     cannot consume entirely and reports a [*SyntaxError] with the column of
//     the offending character.
//  2. Scarf's "**" does not match an empty segment although "*" does, because
//     its matcher gives up on a wildcard followed by more pieces once the
//     text is exhausted. Here wildcards are plain globs: any number of
//     consecutive '*' behave like one.
//
// # Cost
//
// Image names come from request paths and are attacker-controlled, while
// nested unions and wildcards would make a backtracking matcher
// exponential. [Pattern.Match] therefore simulates all alternatives at once
// over each segment, in time proportional to the segment length times the
// pattern size, and without allocating.
package imagepattern
