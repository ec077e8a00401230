//go:build tools

// Package tools records the kustomize command this module builds: DORIS runs the real
// kustomize for wave folders holding a kustomization.yaml (docs/adr/0012-kustomize.md).
package tools

import _ "sigs.k8s.io/kustomize/kustomize/v5"
