package controllers

import "github.com/go-logr/logr"

// MaxLogVerbosity is the highest V-level the manager ever logs, whatever
// --zap-log-level says: from V(8) on, client-go logs the bodies of API
// responses, and those of Secret reads carry Secret data.
const MaxLogVerbosity = 7

// CapVerbosity returns logger with every V-level above max disabled.
func CapVerbosity(logger logr.Logger, max int) logr.Logger {
	sink := logger.GetSink()
	if sink == nil {
		return logger
	}
	if cd, ok := sink.(logr.CallDepthLogSink); ok {
		sink = cd.WithCallDepth(1) // this wrapper is one more frame
	}
	return logr.New(&cappedSink{LogSink: sink, max: max})
}

type cappedSink struct {
	logr.LogSink
	max int
}

func (s *cappedSink) Enabled(level int) bool { return level <= s.max && s.LogSink.Enabled(level) }

func (s *cappedSink) Info(level int, msg string, kv ...any) {
	if level <= s.max {
		s.LogSink.Info(level, msg, kv...)
	}
}

func (s *cappedSink) WithValues(kv ...any) logr.LogSink {
	return &cappedSink{LogSink: s.LogSink.WithValues(kv...), max: s.max}
}

func (s *cappedSink) WithName(name string) logr.LogSink {
	return &cappedSink{LogSink: s.LogSink.WithName(name), max: s.max}
}

func (s *cappedSink) WithCallDepth(depth int) logr.LogSink {
	if cd, ok := s.LogSink.(logr.CallDepthLogSink); ok {
		return &cappedSink{LogSink: cd.WithCallDepth(depth), max: s.max}
	}
	return s
}
