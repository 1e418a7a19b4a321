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

// radixBuilder is a radix tree being built. Its nodes are kept in one
// array, linked by position, so that one builder builds the trees of
// every domain of a table without garbage per node.
type radixBuilder struct {
	nodes []buildNode // nodes[0] is the root, once a key is inserted
	links []ruleLink
	rules int     // rules inserted
	order []int32 // scratch for build
}

type buildNode struct {
	label string
	// first and last rule (positions in links), first child and next
	// sibling (positions in nodes); -1 for none.
	rule, lastRule int32
	child, next    int32
}

type ruleLink struct{ rule, next int32 }

// reset empties b for another tree, keeping its arrays.
func (b *radixBuilder) reset() {
	b.nodes, b.links, b.rules = b.nodes[:0], b.links[:0], 0
}

func (b *radixBuilder) newNode(label string) int32 {
	b.nodes = append(b.nodes, buildNode{label: label, rule: -1, lastRule: -1, child: -1, next: -1})
	return int32(len(b.nodes) - 1)
}

// addRule appends rule to node n's rules.
func (b *radixBuilder) addRule(n, rule int32) {
	b.links = append(b.links, ruleLink{rule: rule, next: -1})
	k := int32(len(b.links) - 1)
	if nd := &b.nodes[n]; nd.lastRule < 0 {
		nd.rule, nd.lastRule = k, k
	} else {
		b.links[nd.lastRule].next = k
		nd.lastRule = k
	}
	b.rules++
}

func (b *radixBuilder) insert(key string, rule int32) {
	if len(b.nodes) == 0 {
		b.newNode("")
	}
	n := int32(0)
	for {
		if key == "" {
			b.addRule(n, rule)
			return
		}
		child := b.child(n, key[0])
		if child < 0 {
			k := b.newNode(key)
			b.nodes[k].next, b.nodes[n].child = b.nodes[n].child, k
			b.addRule(k, rule)
			return
		}
		label := b.nodes[child].label
		common := commonPrefix(label, key)
		if common < len(label) {
			// Split the child: its label's tail moves one level down,
			// with its rules and children.
			tail := b.newNode(label[common:])
			c, t := &b.nodes[child], &b.nodes[tail]
			t.rule, t.lastRule, t.child = c.rule, c.lastRule, c.child
			c.label, c.rule, c.lastRule, c.child = label[:common], -1, -1, tail
		}
		n, key = child, key[common:]
	}
}

func (b *radixBuilder) child(n int32, c byte) int32 {
	for k := b.nodes[n].child; k >= 0; k = b.nodes[k].next {
		if b.nodes[k].label[0] == c {
			return k
		}
	}
	return -1
}

// build lays the tree out flat, breadth first, so that the children of
// a node are neighbours in nodes.
func (b *radixBuilder) build() radix {
	if len(b.nodes) == 0 {
		return radix{}
	}
	r := radix{
		nodes: make([]radixNode, 0, len(b.nodes)),
		rules: make([]int32, 0, b.rules),
		kids:  make([]int32, 0, len(b.nodes)-1),
	}
	// order[i] is the builder node laid out at position i.
	order := append(b.order[:0], 0)
	defer func() { b.order = order }()
	r.nodes = append(r.nodes, radixNode{label: b.nodes[0].label})
	for i := 0; i < len(order); i++ {
		bn := &b.nodes[order[i]]
		node := &r.nodes[i]
		node.rulesLo = int32(len(r.rules))
		for k := bn.rule; k >= 0; k = b.links[k].next {
			r.rules = append(r.rules, b.links[k].rule)
		}
		node.rulesHi = int32(len(r.rules))
		node.kidsLo = int32(len(r.kids))
		for k := bn.child; k >= 0; k = b.nodes[k].next {
			r.kids = append(r.kids, int32(len(r.nodes)))
			r.nodes = append(r.nodes, radixNode{label: b.nodes[k].label})
			order = append(order, k)
		}
		r.nodes[i].kidsHi = int32(len(r.kids))
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
