// Package freeport picks a free TCP port on 127.0.0.1 for a server another process will open
// (Kafka's listeners, OpenSearch's). The port is free when picked; a process that takes it first
// makes that server fail to start, and its caller's start fails with the server's log.
package freeport

import "net"

// Get returns a port no listener on 127.0.0.1 holds at this moment.
func Get() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
