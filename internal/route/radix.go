package route

import "strings"

// radix is a radix tree of literal path prefixes. Each rule is stored at
// the node of its prefix; collect returns every rule whose prefix starts
// the path, in time proportional to the path, whatever the rule count.
//
// A table keeps one per domain, and may have a hundred thousand rules,
// so the tree is built with pointers (radixBuilder) and then laid out
// flat: every node, every node's rules and every node's children each in
// one array.
type radix struct {
	nodes []radixNode // nodes[0] is the root; empty when no rule has a prefix
	rules []int32     // the rules of each node, node after node
	kids  []int32     // the children of each node, as positions in nodes
}

type radixNode struct {
	label            string
	rulesLo, rulesHi int32 // rules[rulesLo:rulesHi]
	kidsLo, kidsHi   int32 // kids[kidsLo:kidsHi]
}

// collect appends the rules of every node whose prefix starts path.
func (r *radix) collect(dst []int32, path string) []int32 {
	if len(r.nodes) == 0 {
		return dst
	}
	n := &r.nodes[0]
	for {
		dst = append(dst, r.rules[n.rulesLo:n.rulesHi]...)
		if path == "" {
			return dst
		}
		next := r.child(n, path[0])
		if next == nil || !strings.HasPrefix(path, next.label) {
			return dst
		}
		path = path[len(next.label):]
		n = next
	}
}

func (r *radix) child(n *radixNode, c byte) *radixNode {
	for _, k := range r.kids[n.kidsLo:n.kidsHi] {
		if ch := &r.nodes[k]; ch.label[0] == c {
			return ch
		}
	}
	return nil
}

// radixBuilder is a radix tree being built.
type radixBuilder struct {
	label    string
	rules    []int32
	children []*radixBuilder
	size     int // nodes in the tree, at the root
	count    int // rules in the tree, at the root
}

func (n *radixBuilder) insert(key string, rule int32) {
	root := n
	root.count++
	if root.size == 0 {
		root.size = 1
	}
	for {
		if key == "" {
			n.rules = append(n.rules, rule)
			return
		}
		child := n.child(key[0])
		if child == nil {
			n.children = append(n.children, &radixBuilder{label: key, rules: []int32{rule}})
			root.size++
			return
		}
		common := commonPrefix(child.label, key)
		if common < len(child.label) {
			// Split the child: its label's tail moves one level down.
			tail := &radixBuilder{label: child.label[common:], rules: child.rules, children: child.children}
			child.label = child.label[:common]
			child.rules = nil
			child.children = []*radixBuilder{tail}
			root.size++
		}
		n, key = child, key[common:]
	}
}

func (n *radixBuilder) child(c byte) *radixBuilder {
	for _, ch := range n.children {
		if ch.label[0] == c {
			return ch
		}
	}
	return nil
}

// build lays the tree out flat, breadth first, so that the children of
// a node are neighbours in nodes.
func (n *radixBuilder) build() radix {
	if n.size == 0 {
		return radix{}
	}
	r := radix{
		nodes: make([]radixNode, 0, n.size),
		rules: make([]int32, 0, n.count),
		kids:  make([]int32, 0, n.size-1),
	}
	queue := []*radixBuilder{n}
	r.nodes = append(r.nodes, radixNode{label: n.label})
	for i := 0; i < len(queue); i++ {
		b, node := queue[i], &r.nodes[i]
		node.rulesLo = int32(len(r.rules))
		r.rules = append(r.rules, b.rules...)
		node.rulesHi = int32(len(r.rules))
		node.kidsLo = int32(len(r.kids))
		for _, ch := range b.children {
			r.kids = append(r.kids, int32(len(r.nodes)))
			r.nodes = append(r.nodes, radixNode{label: ch.label})
			node = &r.nodes[i] // nodes has its full capacity: it does not move
			queue = append(queue, ch)
		}
		node.kidsHi = int32(len(r.kids))
	}
	return r
}

func commonPrefix(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}
