package lablink

import (
	"fmt"
	"math"

	"github.com/goccy/go-yaml/ast"
)

// yamlKind is what a YAML node holds, as far as Config cares.
type yamlKind int

const (
	yamlNull yamlKind = iota
	yamlString
	yamlInt
	yamlFloat
	yamlBool
	yamlMapping
	yamlList
	yamlOther // a value of a tag Config has no use for (!!binary, !foo)
)

// scalarInfo is what a node holds, for decoding and for error messages.
type scalarInfo struct {
	kind     yamlKind
	text     string // the string, or the source text of other scalars
	tag      string // for yamlOther
	int      int64
	overflow bool
	bool     bool
}

// classify tells what n holds. A "!!str" tag makes any scalar a string,
// as YAML specifies; other standard tags are taken at their word by the
// parser already.
func classify(n ast.Node) scalarInfo {
	switch n := n.(type) {
	case nil, *ast.NullNode:
		return scalarInfo{kind: yamlNull, text: "null"}
	case *ast.StringNode:
		return scalarInfo{kind: yamlString, text: n.Value}
	case *ast.LiteralNode:
		return scalarInfo{kind: yamlString, text: n.Value.Value}
	case *ast.IntegerNode:
		s := scalarInfo{kind: yamlInt, text: n.GetToken().Value}
		switch i := n.Value.(type) {
		case int64:
			s.int = i
		case uint64:
			s.int, s.overflow = int64(i), i > math.MaxInt64
		}
		return s
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return scalarInfo{kind: yamlFloat, text: n.GetToken().Value}
	case *ast.BoolNode:
		return scalarInfo{kind: yamlBool, text: n.GetToken().Value, bool: n.Value}
	case *ast.MappingNode, *ast.MappingValueNode:
		return scalarInfo{kind: yamlMapping}
	case *ast.SequenceNode:
		return scalarInfo{kind: yamlList}
	case *ast.TagNode:
		return classifyTagged(n)
	}
	return scalarInfo{kind: yamlOther, text: n.GetToken().Value}
}

func classifyTagged(n *ast.TagNode) scalarInfo {
	inner := classify(n.Value)
	switch tag := n.Start.Value; tag {
	case "!!str":
		if inner.kind != yamlMapping && inner.kind != yamlList && inner.kind != yamlOther {
			if inner.kind == yamlNull {
				inner.text = ""
			}
			return scalarInfo{kind: yamlString, text: inner.text}
		}
	case "!!int", "!!bool", "!!float", "!!null", "!!map", "!!seq":
		want := map[string]yamlKind{"!!int": yamlInt, "!!bool": yamlBool, "!!float": yamlFloat,
			"!!null": yamlNull, "!!map": yamlMapping, "!!seq": yamlList}[tag]
		if inner.kind == want {
			return inner
		}
	}
	return scalarInfo{kind: yamlOther, tag: n.Start.Value, text: inner.text}
}

func (s scalarInfo) describe() string {
	switch s.kind {
	case yamlNull:
		return "null"
	case yamlString:
		return fmt.Sprintf("string %q", s.text)
	case yamlInt:
		return "integer " + s.text
	case yamlFloat:
		return "number " + s.text
	case yamlBool:
		return "boolean " + s.text
	case yamlMapping:
		return "a mapping"
	case yamlList:
		return "a list"
	}
	if s.tag != "" {
		return fmt.Sprintf("a value tagged %s", s.tag)
	}
	return fmt.Sprintf("%q", s.text)
}
