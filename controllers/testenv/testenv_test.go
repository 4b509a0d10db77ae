package testenv

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindLeaksFindsValuesAsWrittenAndInBase64(t *testing.T) {
	text := "log: token=sk-live-1 and data " + base64.StdEncoding.EncodeToString([]byte("pw-2"))
	got := FindLeaks(text, []string{"sk-live-1", "pw-2", "absent"})
	if len(got) != 2 || !strings.Contains(got[0], `"sk-live-1"`) || !strings.Contains(got[1], `"pw-2"`) {
		t.Errorf("FindLeaks = %q: want the first two values found", got)
	}
}

func TestModuleRootIsTheRepositoryRoot(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "config", "crd", "bases")); err != nil {
		t.Errorf("moduleRoot() = %s, which has no config/crd/bases: %v", root, err)
	}
}
