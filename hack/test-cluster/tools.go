//go:build tools

// Package tools records the commands this module builds, so that `go mod tidy` keeps
// their dependencies. hack/build-test-cluster.sh builds them with `go build`.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"            // etcd (its main package)
	_ "k8s.io/kubernetes/cmd/kube-apiserver" // kube-apiserver
)
