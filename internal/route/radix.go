package route

import "strings"

// radix is a radix tree of literal path prefixes. Each rule is stored at
// the node of its prefix; collect returns every rule whose prefix starts
// the path, in time proportional to the path, whatever the rule count.
type radix struct {
	label    string
	rules    []int32
	children []*radix
}

func (n *radix) insert(key string, rule int32) {
	for {
		if key == "" {
			n.rules = append(n.rules, rule)
			return
		}
		child := n.child(key[0])
		if child == nil {
			n.children = append(n.children, &radix{label: key, rules: []int32{rule}})
			return
		}
		common := commonPrefix(child.label, key)
		if common < len(child.label) {
			// Split the child: its label's tail moves one level down.
			tail := &radix{label: child.label[common:], rules: child.rules, children: child.children}
			child.label = child.label[:common]
			child.rules = nil
			child.children = []*radix{tail}
		}
		n, key = child, key[common:]
	}
}

func (n *radix) child(c byte) *radix {
	for _, ch := range n.children {
		if ch.label[0] == c {
			return ch
		}
	}
	return nil
}

// collect appends the rules of every node whose prefix starts path.
func (n *radix) collect(dst []int32, path string) []int32 {
	for {
		dst = append(dst, n.rules...)
		if path == "" {
			return dst
		}
		next := n.child(path[0])
		if next == nil || !strings.HasPrefix(path, next.label) {
			return dst
		}
		path = path[len(next.label):]
		n = next
	}
}

func commonPrefix(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}
