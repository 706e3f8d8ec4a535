package sspi

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var updateSurface = flag.Bool("update-surface", false, "rewrite testdata/exported.txt from the package's source")

// TestExportedSurface pins the root package's exported identifiers:
// every top-level name and method, one per line. The list was reviewed
// (the Windows names of the flat API, the Go API, and the constants
// re-exported from packages and status); an export added or removed by
// accident shows up here. After a deliberate change, run
// go test -run TestExportedSurface -update-surface and review the diff.
func TestExportedSurface(t *testing.T) {
	got := exportedSurface(t)
	path := filepath.Join("testdata", "exported.txt")
	if *updateSurface {
		if err := os.WriteFile(path, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, name := range got {
		if !slices.Contains(want, name) {
			t.Errorf("new export %s: unexport it, or review it and update %s", name, path)
		}
	}
	for _, name := range want {
		if !slices.Contains(got, name) {
			t.Errorf("export %s is gone: review and update %s", name, path)
		}
	}
}

func exportedSurface(t *testing.T) []string {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name.Name != "sspi" {
			continue
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv != nil {
					typ := d.Recv.List[0].Type
					if s, ok := typ.(*ast.StarExpr); ok {
						typ = s.X
					}
					id, ok := typ.(*ast.Ident)
					if !ok || !id.IsExported() {
						continue
					}
					names = append(names, "method "+id.Name+"."+d.Name.Name)
					continue
				}
				names = append(names, "func "+d.Name.Name)
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							names = append(names, "type "+s.Name.Name)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								names = append(names, d.Tok.String()+" "+n.Name)
							}
						}
					}
				}
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
