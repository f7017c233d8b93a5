package main

import (
	"fmt"
	"net/http"
	"time"
)

const defaultTimeout = 5 * time.Second

type Handler struct {
	greeting string
}

func newHandler(greeting string) *Handler {
	return &Handler{greeting: greeting}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	fmt.Fprintf(w, "%s, %s!", h.greeting, name)
}

func main() {
	server := &http.Server{Addr: ":8080", Handler: newHandler("Hello"), ReadTimeout: defaultTimeout}
	if err := server.ListenAndServe(); err != nil {
		panic(err)
	}
}
