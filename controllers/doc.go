// Package controllers holds the operator's reconcilers: the only package,
// besides main, that talks to the Kubernetes API. The Sendblue side lives in
// the sendblue subpackage, which imports nothing of this project's.
package controllers
