package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/heraldhq/herald/sdk/go/herald"
	"github.com/heraldhq/herald/sdk/go/heraldv1"
	"github.com/heraldhq/herald/sdk/go/internal/heraldtest"
)

// lockedBuffer is an io.Writer safe for the quickstart's two goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// checkOutput checks what the quickstart printed.
func checkOutput(t *testing.T, out string) {
	t.Helper()
	for _, re := range []string{
		`(?m)^connected to heraldd \S+ as bootstrap-admin$`,
		`(?m)^created policy \d+ "quickstart-\d+"$`,
		`(?m)^published event \d+ \(deliveries created: 1\)$`,
		`(?m)^received a verified PUSH_ARTIFACT webhook \(CloudEvents\): library/busybox:1\.36 pushed by quickstart$`,
		`(?m)^(watch: task|execution) \d+ is TASK_STATUS_SUCCESS$`,
		`(?m)^done$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}
}

func startServer(t *testing.T) *heraldtest.Server {
	t.Helper()
	srv, err := heraldtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	return srv
}

func TestQuickstart(t *testing.T) {
	srv := startServer(t)
	var out lockedBuffer
	if err := run(context.Background(), srv.Addr, srv.AdminToken, &out); err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out.String())
	}
	checkOutput(t, out.String())
	if !strings.Contains(out.String(), "watch: task") {
		t.Logf("the watch did not see the delivery; the execution record was used")
	}

	// It cleaned up after itself.
	c, err := herald.Dial(context.Background(), srv.Addr, herald.WithInsecure(), herald.WithToken(srv.AdminToken))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	left, err := herald.Collect(c.ListPolicies(context.Background(), &heraldv1.ListPoliciesRequest{ProjectId: proto.Int64(1)}))
	if err != nil || len(left) != 0 {
		t.Fatalf("policies left: %v, %v", left, err)
	}
}

// TestQuickstartCommand runs the quickstart as the README says, as a
// program configured by HERALD_ADDRESS and HERALD_TOKEN.
func TestQuickstartCommand(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	srv := startServer(t)
	bin := filepath.Join(t.TempDir(), "quickstart")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "HERALD_ADDRESS="+srv.Addr, "HERALD_TOKEN="+srv.AdminToken)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out)
	}
	checkOutput(t, string(out))

	// With a wrong token it fails with a clear error.
	cmd = exec.Command(bin)
	cmd.Env = append(os.Environ(), "HERALD_ADDRESS="+srv.Addr, "HERALD_TOKEN=hld_wrong")
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Unauthenticated (TOKEN_INVALID)") {
		t.Fatalf("with a wrong token: %v\n%s", err, out)
	}
}

// TestReadmeQuickstart checks that the README shows exactly this file.
func TestReadmeQuickstart(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- quickstart: examples/quickstart/main.go -->\n```go\n"
	_, after, ok := strings.Cut(string(readme), marker)
	if !ok {
		t.Fatalf("README.md has no %q block", marker)
	}
	block, _, ok := strings.Cut(after, "```\n")
	if !ok {
		t.Fatal("unterminated code block")
	}
	if block != string(code) {
		t.Fatalf("README.md's quickstart differs from examples/quickstart/main.go; copy the file into the block")
	}
}
