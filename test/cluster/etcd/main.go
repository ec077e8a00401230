// Command etcd is etcd's own server entry point, built from the server module so that the
// test environment runs the same etcd that Kubernetes pins.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
