//go:build tools

// Package tools records the commands this module builds: sops, which DORIS runs to decrypt
// SOPS files (docs/adr/0011-sops.md), and age-keygen, with which the tests make a fresh age
// key on every run (sops depends on filippo.io/age, so both come from one module graph).
package tools

import (
	_ "filippo.io/age/cmd/age-keygen"
	_ "github.com/getsops/sops/v3/cmd/sops"
)
