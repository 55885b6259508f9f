// A Go server (the standard library only, built with CGO_ENABLED=0 by the tests): Go makes the
// bind system call itself, so no preload library can move it. Listens on the address given,
// prints `listening PORT` with the port the kernel gave, serves HTTP until stdin closes. On
// failure it prints `error EADDRINUSE` (or the error) and exits 1.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goserver HOST:PORT")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			fmt.Println("error EADDRINUSE")
		} else {
			fmt.Println("error", err)
		}
		os.Exit(1)
	}
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
}
