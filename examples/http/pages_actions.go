package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/console"
	"github.com/lablink-go/lablink/launcher"
)

// launchPage is the first step of a launch (GET: how many VMs) and its
// last (POST, from the preview: queue it and follow it on its page).
func (s *server) launchPage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.launchForm(w, r, http.StatusOK, r.URL.Query().Get("num_vms"), "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.launchForm(w, r, http.StatusBadRequest, "", "The form could not be read.")
		return
	}
	raw, present := formValue(r)
	n, status, msg := parseNumVMs(raw, present)
	if status != 0 {
		s.launchForm(w, r, status, raw, msg)
		return
	}
	op, err := s.start(r, launcher.Request{Count: n, Actor: actorOf(r)})
	if err != nil {
		s.startFailedPage(w, r, "launch", raw, err)
		return
	}
	http.Redirect(w, r, "/operations/"+itoa(op.ID), http.StatusSeeOther)
}

// startFailedPage answers a console form whose operation was not queued.
func (s *server) startFailedPage(w http.ResponseWriter, r *http.Request, name, raw string, err error) {
	switch {
	case errors.Is(err, launcher.ErrInvalidCount):
		s.launchForm(w, r, http.StatusBadRequest, raw, capitalize(err.Error())+".")
	case errors.Is(err, errShuttingDown), errors.Is(err, launcher.ErrClosed):
		s.errorPage(w, r, http.StatusServiceUnavailable, "The server is shutting down",
			"The "+name+" was not queued. Try again once the server is back.")
	default:
		s.failedPage(w, r, "queuing the "+name, err)
	}
}

func (s *server) launchForm(w http.ResponseWriter, r *http.Request, status int, numVMs, msg string) {
	st, err := s.l.Status(r.Context())
	if err != nil {
		s.failedPage(w, r, "reading the state", err)
		return
	}
	s.render(w, r, status, "launch", console.Page{Title: "Launch VMs", Nav: "launch",
		Data: console.LaunchForm{NumVMs: numVMs, Error: msg, VMs: len(st.VMs)}})
}

// previewPage is the second step of a launch: what it would do
// (launcher.Service.Preview), and the button that confirms it.
func (s *server) previewPage(w http.ResponseWriter, r *http.Request) {
	raw, present := r.URL.Query()["num_vms"]
	v := ""
	if present {
		v = raw[0]
	}
	n, status, msg := parseNumVMs(v, present)
	if status != 0 {
		s.launchForm(w, r, status, v, msg)
		return
	}
	p, err := s.l.Preview(r.Context(), n)
	if errors.Is(err, launcher.ErrInvalidCount) {
		s.launchForm(w, r, http.StatusBadRequest, v, capitalize(err.Error())+".")
		return
	}
	if err != nil {
		s.failedPage(w, r, "previewing the launch", err)
		return
	}
	st, err := s.l.Status(r.Context())
	if err != nil {
		s.failedPage(w, r, "reading the state", err)
		return
	}
	s.render(w, r, http.StatusOK, "preview", console.Page{Title: "Confirm the launch", Nav: "launch",
		Data: console.Preview{Preview: p, GPU: gpuWords(p.GPU), First: !st.TFVars}})
}

// gpuWords describes an instance type's GPUs and where the answer came
// from.
func gpuWords(i gpu.Info) string {
	var parts []string
	for _, g := range i.GPUs {
		part := fmt.Sprintf("%d × %s %s", g.Count, g.Manufacturer, g.Name)
		if g.MemoryMiB > 0 {
			part += fmt.Sprintf(" (%d GiB)", g.MemoryMiB/1024)
		}
		parts = append(parts, part)
	}
	what := "No GPU: the VMs start without GPU support"
	if len(parts) > 0 {
		what = strings.Join(parts, ", ")
		if !i.HasNVIDIA() {
			what += "; no NVIDIA GPU: the VMs start without GPU support"
		}
	}
	switch {
	case i.Source == gpu.SourceCatalog && i.CatalogDate != "":
		return what + " (offline catalog of " + i.CatalogDate + ")"
	case i.Source != "":
		return what + " (answer from " + string(i.Source) + ")"
	}
	return what
}

// destroyPage is the destroy page (GET) and its form (POST): the typed
// name of the deployment confirms, then the destroy is queued and
// followed on its page.
func (s *server) destroyPage(w http.ResponseWriter, r *http.Request) {
	st, err := s.l.Status(r.Context())
	if err != nil {
		s.failedPage(w, r, "reading the state", err)
		return
	}
	form := console.DestroyForm{VMs: len(st.VMs), Nothing: nothingToDestroy(st), Busy: st.Busy, Expected: s.deployment()}
	if r.Method != http.MethodPost {
		s.destroyForm(w, r, http.StatusOK, form)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		form.Error = "The form could not be read."
		s.destroyForm(w, r, http.StatusBadRequest, form)
		return
	}
	if form.Nothing {
		s.destroyForm(w, r, http.StatusNotFound, form)
		return
	}
	form.Typed = r.PostForm.Get("confirm")
	if strings.TrimSpace(form.Typed) != form.Expected {
		form.Error = "That is not the deployment's name. Type " + form.Expected + " exactly; nothing was destroyed."
		s.destroyForm(w, r, http.StatusBadRequest, form)
		return
	}
	op, err := s.start(r, launcher.Request{Destroy: true, Actor: actorOf(r)})
	if err != nil {
		s.startFailedPage(w, r, "destroy", "", err)
		return
	}
	http.Redirect(w, r, "/operations/"+itoa(op.ID), http.StatusSeeOther)
}

func (s *server) destroyForm(w http.ResponseWriter, r *http.Request, status int, f console.DestroyForm) {
	s.render(w, r, status, "destroy", console.Page{Title: "Destroy", Nav: "destroy", Data: f})
}

// vmsPage lists the client VMs of the state, and the VMs the cloud holds
// that the state does not, with the commands that resolve each (the
// launcher's inventory writes them).
func (s *server) vmsPage(w http.ResponseWriter, r *http.Request) {
	st, err := s.l.Status(r.Context())
	if err != nil {
		s.failedPage(w, r, "reading the state", err)
		return
	}
	d := console.VMs{VMs: st.VMs, Stale: staleVMs(st.VMs), Digest: s.cfg.Digest(), Orphans: st.Orphans,
		StateProblem: st.State != nil, InventoryProblem: capitalize(s.inventoryError(r.Context(), st.InventoryError))}
	s.render(w, r, http.StatusOK, "vms", console.Page{Title: "Client VMs", Nav: "vms", Data: d})
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
