package ccache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// fileCache is a FILE: cache.
type fileCache struct {
	path string
	name string // the full name, when not FILE:path (a DIR subsidiary)
}

func (c *fileCache) Name() string {
	if c.name != "" {
		return c.name
	}
	return "FILE:" + c.path
}

// readCapped reads at most MaxFileSize bytes of f.
func readCapped(f *os.File) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		clear(b)
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxFileSize)
	}
	return b, nil
}

func (c *fileCache) Load(ctx context.Context) (Principal, []Credential, error) {
	f, err := os.Open(c.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Principal{}, nil, fmt.Errorf("%w: %s", ErrNotFound, c.Name())
		}
		return Principal{}, nil, fmt.Errorf("ccache: %w", err)
	}
	defer f.Close()
	if err := lockFile(ctx, f, false); err != nil {
		return Principal{}, nil, err
	}
	b, err := readCapped(f)
	unlockFile(f)
	if err != nil {
		return Principal{}, nil, fmt.Errorf("ccache: %s: %w", c.Name(), err)
	}
	defer clear(b)
	if len(b) == 0 {
		return Principal{}, nil, fmt.Errorf("%w: %s is empty", ErrNotFound, c.Name())
	}
	file, err := ParseFile(b)
	if err != nil {
		return Principal{}, nil, fmt.Errorf("%s: %w", c.Name(), err)
	}
	return file.Principal, file.Credentials, nil
}

// Store appends c to the file under its lock, as MIT's FILE type does,
// after checking that the file is a cache of a version this package
// writes (3 or 4).
func (c *fileCache) Store(ctx context.Context, cred *Credential) error {
	f, err := os.OpenFile(c.path, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrNotFound, c.Name())
		}
		return fmt.Errorf("ccache: %w", err)
	}
	defer f.Close()
	if err := lockFile(ctx, f, true); err != nil {
		return err
	}
	defer unlockFile(f)
	var hdr [2]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil || hdr[0] != 5 || (hdr[1] != 3 && hdr[1] != 4) {
		return fmt.Errorf("%w: %s is not a version 3 or 4 FILE cache", ErrFormat, c.Name())
	}
	e := &encoder{b: make([]byte, 0, cred.size()), version: int(hdr[1])}
	e.credential(cred)
	defer clear(e.b)
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("ccache: %w", err)
	}
	if _, err := f.Write(e.b); err != nil {
		return fmt.Errorf("ccache: %s: %w", c.Name(), err)
	}
	return nil
}

// Initialize rewrites the file (mode 0600) with a version 4 cache holding
// p and creds.
func (c *fileCache) Initialize(ctx context.Context, p Principal, creds []Credential) error {
	file := &File{Version: 4, Principal: p, Credentials: creds}
	b := file.Marshal()
	defer clear(b)
	f, err := os.OpenFile(c.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("ccache: %w", err)
	}
	defer f.Close()
	if err := lockFile(ctx, f, true); err != nil {
		return err
	}
	defer unlockFile(f)
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("ccache: %w", err)
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("ccache: %s: %w", c.Name(), err)
	}
	return nil
}

// dirPrimary is the file of a DIR collection that names its primary
// cache.
const dirPrimary = "primary"

// resolveDir opens DIR:dir (the collection's primary cache, "tkt" when
// the primary file does not exist yet) or DIR::dir/tktNAME (one cache).
func resolveDir(residual string) (Cache, error) {
	if path, ok := strings.CutPrefix(residual, ":"); ok {
		dir, base := filepath.Split(path)
		if dir == "" || !strings.HasPrefix(base, "tkt") {
			return nil, fmt.Errorf("%w: DIR subsidiary %q is not DIR::dir/tktNAME", ErrFormat, path)
		}
		return &fileCache{path: path, name: "DIR::" + path}, nil
	}
	if residual == "" {
		return nil, fmt.Errorf("%w: empty DIR cache name", ErrNotFound)
	}
	name, err := readPrimary(filepath.Join(residual, dirPrimary))
	if errors.Is(err, fs.ErrNotExist) {
		name = "tkt"
	} else if err != nil {
		return nil, err
	}
	path := filepath.Join(residual, name)
	return &dirCache{fileCache: fileCache{path: path, name: "DIR::" + path}, dir: residual, base: name}, nil
}

// readPrimary reads a collection's primary file: one line naming a file
// of the directory that begins with "tkt".
func readPrimary(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var buf [64]byte
	n, err := io.ReadFull(f, buf[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", fmt.Errorf("ccache: %w", err)
	}
	line, _, ok := strings.Cut(string(buf[:n]), "\n")
	if !ok || !strings.HasPrefix(line, "tkt") || strings.ContainsAny(line, `/\`) {
		return "", fmt.Errorf("%w: %s does not name a tkt file", ErrFormat, path)
	}
	return line, nil
}

// dirCache is the primary cache of a DIR collection: a FILE cache that,
// when initialised, also creates the directory and the primary file as
// kinit does.
type dirCache struct {
	fileCache
	dir, base string
}

func (c *dirCache) Initialize(ctx context.Context, p Principal, creds []Credential) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("ccache: %w", err)
	}
	primary := filepath.Join(c.dir, dirPrimary)
	if _, err := os.Stat(primary); errors.Is(err, fs.ErrNotExist) {
		tmp, err := os.CreateTemp(c.dir, dirPrimary+".")
		if err != nil {
			return fmt.Errorf("ccache: %w", err)
		}
		_, werr := tmp.WriteString(c.base + "\n")
		cerr := tmp.Close()
		if werr == nil && cerr == nil {
			werr = os.Rename(tmp.Name(), primary)
		}
		if werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("ccache: %w", werr)
		}
	}
	return c.fileCache.Initialize(ctx, p, creds)
}
