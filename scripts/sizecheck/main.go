// Command sizecheck is a gate of `make check`: it fails when a non-test
// function in the packages that hold ehos's decision, cycle and wiring is
// longer than MaxFuncLines, or a non-test Go file under lib/ is longer than
// MaxFileLines. Long functions and files are where a rule hides among
// others; the limits keep each step small enough to read and test alone.
//
// Run it from the repository root: go run ./scripts/sizecheck
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

const (
	MaxFuncLines = 80
	MaxFileLines = 500
)

// funcRoots are the trees whose functions must stay short.
var funcRoots = []string{"lib/scale", "lib/provision", "lib/wire", "plugins"}

// fileRoot is the tree whose files must stay short.
const fileRoot = "lib"

// fileExceptions are files allowed over MaxFileLines for now, each with why.
var fileExceptions = map[string]string{}

func main() {
	problems, err := check(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sizecheck:", err)
		os.Exit(2)
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "sizecheck: %d problems (functions at most %d lines in %s; files at most %d lines in %s/)\n",
			len(problems), MaxFuncLines, strings.Join(funcRoots, ", "), MaxFileLines, fileRoot)
		os.Exit(1)
	}
}

// check returns one line per function or file over its limit, sorted.
func check(root string) ([]string, error) {
	var problems []string
	for _, dir := range funcRoots {
		err := eachGoFile(filepath.Join(root, dir), func(path string) error {
			long, err := longFuncs(path)
			problems = append(problems, long...)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	stale := map[string]bool{}
	for f := range fileExceptions {
		stale[f] = true
	}
	err := eachGoFile(filepath.Join(root, fileRoot), func(path string) error {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n := strings.Count(string(data), "\n")
		rel, _ := filepath.Rel(root, path)
		if _, ok := fileExceptions[filepath.ToSlash(rel)]; ok {
			stale[filepath.ToSlash(rel)] = n <= MaxFileLines
			return nil
		}
		if n > MaxFileLines {
			problems = append(problems, fmt.Sprintf("%s: %d lines (at most %d)", path, n, MaxFileLines))
		}
		return nil
	})
	// An exception outlives its reason once the file is short or gone.
	for f, gone := range stale {
		if gone {
			problems = append(problems, fmt.Sprintf("%s: no longer over %d lines; remove it from fileExceptions in scripts/sizecheck", filepath.Join(root, f), MaxFileLines))
		}
	}
	sort.Strings(problems)
	return problems, err
}

// eachGoFile calls fn for every non-test .go file below dir.
func eachGoFile(dir string, fn func(path string) error) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		return fn(path)
	})
}

// longFuncs names the functions and methods in path longer than
// MaxFuncLines, counting from the func line to the closing brace.
func longFuncs(path string) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var long []string
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		start, end := fset.Position(fn.Pos()), fset.Position(fn.End())
		if n := end.Line - start.Line + 1; n > MaxFuncLines {
			long = append(long, fmt.Sprintf("%s:%d: func %s is %d lines (at most %d)", path, start.Line, funcName(fn), n, MaxFuncLines))
		}
	}
	return long, nil
}

func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if g, ok := t.(*ast.IndexExpr); ok {
		t = g.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}
