package main

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestREADMEOrganizeScript runs the README's collections and attachments
// script verbatim against the example server.
func TestREADMEOrganizeScript(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("ATTACH_REQUIRE_BACKENDS") != "" {
				t.Fatalf("%s is required for the README walkthrough", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	addr, _ := startServer(t, map[string]string{"ATTACH_ADDR": "127.0.0.1:0", "ATTACH_DATA_DIR": t.TempDir()})
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", readmeScript(t, "organize"))
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "API=http://"+addr+"/v1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "organize failed:\n%s", out)
	for _, want := range []string{
		`"invalid_file_type"`,
		`{"total":1,"names":["invoice.pdf"]}`,
		`[{"field":"attachments","position":0}]`,
		`{"attachments":["invoice.pdf"]}`,
		`["order/1001/attachments"]`,
		"[]\nfile after purge: 404\n",
	} {
		assert.Contains(t, string(out), want)
	}
}
