// Upstream framework (c) of the differential test (test/differential/): Go's
// net/http server with a ServeMux, routing as an application on it would.
// Each handler answers {"route": NAME}; the mux's own answers (a 301 to the
// cleaned path, a 400 from the server for a request it will not parse) stay
// what they are, and the test reads them as "served nothing".
//
// Standard library only: built at test time with `go build` into a temp dir.
// Prints "listening PORT" once the socket is bound, and exits when its
// standard input closes: the test holds it open, so even a test process that
// is killed leaves no server behind.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

func route(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"route":%q,"path":%q,"host":%q}`, name, r.URL.Path, r.Host)
	}
}

func main() {
	mux := http.NewServeMux()
	// A host pattern wins over path-only patterns (ServeMux matches host+path first).
	mux.HandleFunc("admin.internal/", route("vhost-admin"))
	mux.HandleFunc("/admin", route("admin"))
	mux.HandleFunc("/admin/", route("admin"))
	mux.HandleFunc("/", route("public"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
