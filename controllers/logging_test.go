package controllers

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

func TestCapVerbosityNeverLogsWhereClientGoLogsBodies(t *testing.T) {
	var buf bytes.Buffer
	logger := CapVerbosity(zap.New(zap.WriteTo(&buf), zap.Level(zapcore.Level(-128))), MaxLogVerbosity)
	if !logger.V(MaxLogVerbosity).Enabled() {
		t.Errorf("V(%d) is disabled: the cap takes more than it must", MaxLogVerbosity)
	}
	for _, v := range []int{8, 9, 10, 127} {
		if logger.V(v).Enabled() {
			t.Errorf("V(%d) is enabled", v)
		}
	}
	named := logger.WithName("child").WithValues("k", "v")
	named.V(8).Info("Response Body", "body", "secret-data-body")
	named.V(7).Info("kept")
	if strings.Contains(buf.String(), "secret-data-body") || !strings.Contains(buf.String(), "kept") {
		t.Errorf("log: %s", buf.String())
	}
	// client-go reads its logger from the context, as the reconciler's is.
	if klog.FromContext(klog.NewContext(t.Context(), logger)).V(8).Enabled() {
		t.Error("client-go would log bodies through the capped logger")
	}
}
