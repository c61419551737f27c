package main

// `theseus-guest watch`: follows services and acts on each change. Each service is read once, then
// an etcd watch from the revision read + 1 says when to read it again; a broken or canceled watch
// (etcd restarted, revision compacted) is simply a reason to read again. Acting compares states,
// not events: the delta is the difference between what was last acted on and what is there now,
// so a failed action is retried with the next change and nothing is missed or repeated.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

func logLine(level, message string, fields map[string]any) {
	entry := map[string]any{"level": level, "message": message, "component": "watch", "timestamp": time.Now().UTC().Format(time.RFC3339Nano)}
	for k, v := range fields {
		entry[k] = v
	}
	out, _ := json.Marshal(entry)
	fmt.Fprintln(os.Stderr, string(out))
}

const (
	firstRetry = 100 * time.Millisecond
	maxRetry   = time.Second
	// A failed reload is run again after this long, doubling up to maxReloadRetry.
	firstReloadRetry = time.Second
	maxReloadRetry   = 30 * time.Second
	// THESEUS_DELTA stays below Linux's limit for one variable; stdin always has the whole delta.
	maxDeltaVariable = 120 * 1024
)

type update struct {
	service string
	state   serviceState
}

// follow reads a service whenever etcd says it changed, and sends each state read.
// Refusals of who we are end the watch (sent on fatal): retrying cannot help.
func follow(ctx context.Context, client *etcdClient, l layout, namespace, service string, updates chan<- update, fatal chan<- error) {
	delay := firstRetry
	warned := map[string]bool{}
	for ctx.Err() == nil {
		state, err := readService(ctx, client, l, namespace, service, func(err error) {
			if !warned[err.Error()] {
				warned[err.Error()] = true
				logLine("warn", "skipping an endpoint record that does not decode", map[string]any{"service": service, "error": err.Error()})
			}
		})
		if err == nil {
			select {
			case updates <- update{service, state}:
			case <-ctx.Done():
				return
			}
			err = client.watchPrefix(ctx, l.service(namespace, service), state.revision)
			if err == nil {
				delay = firstRetry
				continue
			}
		}
		if ctx.Err() != nil {
			return
		}
		if _, refused := err.(authError); refused {
			select {
			case fatal <- err:
			case <-ctx.Done():
			}
			return
		}
		logLine("warn", "etcd unreachable or watch ended, reading the service again", map[string]any{"service": service, "error": err.Error(), "retryInMs": delay.Milliseconds()})
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
		if delay *= 2; delay > maxRetry {
			delay = maxRetry
		}
	}
}

type renderer struct {
	template *template.Template
	source   string
	out      string
	check    string
	reload   string
	// A reload that failed is owed until one succeeds.
	reloadOwed  bool
	reloadDelay time.Duration
}

// templateData is what a template sees: {{range healthy (service "web")}}{{.Address "http"}}{{end}}.
type templateData struct {
	Namespace string
	Services  map[string][]*record
}

func templateFuncs(data *templateData) template.FuncMap {
	return template.FuncMap{
		"service": func(name string) ([]*record, error) {
			records, ok := data.Services[name]
			if !ok {
				return nil, fmt.Errorf("service %q is not watched (watch it: theseus-guest watch %s ...)", name, name)
			}
			return records, nil
		},
		"healthy": func(records []*record) []*record {
			out := []*record{}
			for _, r := range records {
				if r.IsHealthy() {
					out = append(out, r)
				}
			}
			return out
		},
		"join": func(separator string, items []string) string { return strings.Join(items, separator) },
		"env":  os.Getenv,
	}
}

func loadTemplate(path string) (*template.Template, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--template: cannot read %s: %v", path, err)}
	}
	data := &templateData{}
	t, err := template.New(filepath.Base(path)).Option("missingkey=error").Funcs(templateFuncs(data)).Parse(string(text))
	if err != nil {
		return nil, usageError{fmt.Sprintf("--template %s: %v", path, err)}
	}
	return t, nil
}

// render writes the file when its content changes, checks it first, and reloads after a change
// (or when a reload is still owed). It returns whether everything succeeded.
func (r *renderer) render(ctx context.Context, data *templateData) bool {
	t, err := r.template.Clone()
	if err == nil {
		t = t.Funcs(templateFuncs(data))
	}
	var buf bytes.Buffer
	if err == nil {
		err = t.Execute(&buf, data)
	}
	if err != nil {
		logLine("error", "the template does not render; the file is left as it is", map[string]any{"template": r.source, "error": err.Error()})
		return false
	}
	old, readErr := os.ReadFile(r.out)
	if readErr == nil && bytes.Equal(old, buf.Bytes()) {
		if r.reloadOwed {
			return r.runReload(ctx)
		}
		return true
	}
	temp, err := os.CreateTemp(filepath.Dir(r.out), "."+filepath.Base(r.out)+".*")
	if err != nil {
		logLine("error", "cannot write beside the output file", map[string]any{"out": r.out, "error": err.Error()})
		return false
	}
	tempName := temp.Name()
	defer os.Remove(tempName) // gone after the rename; removes a rejected file
	_, err = temp.Write(buf.Bytes())
	if err == nil {
		err = temp.Sync()
	}
	if closeErr := temp.Close(); err == nil {
		err = closeErr
	}
	if err == nil && readErr == nil {
		if info, statErr := os.Stat(r.out); statErr == nil {
			err = os.Chmod(tempName, info.Mode().Perm())
		}
	} else if err == nil {
		err = os.Chmod(tempName, 0o644)
	}
	if err != nil {
		logLine("error", "cannot write the rendered file", map[string]any{"out": r.out, "error": err.Error()})
		return false
	}
	if r.check != "" {
		command := strings.ReplaceAll(r.check, "{{out}}", tempName)
		if output, err := runShell(ctx, command, nil, nil); err != nil {
			logLine("error", "the check rejected the rendered file; the old one stays", map[string]any{"check": command, "error": err.Error(), "output": output})
			return false
		}
	}
	if err := os.Rename(tempName, r.out); err != nil {
		logLine("error", "cannot replace the output file", map[string]any{"out": r.out, "error": err.Error()})
		return false
	}
	logLine("info", "rendered", map[string]any{"out": r.out, "bytes": buf.Len()})
	r.reloadOwed = r.reload != ""
	r.reloadDelay = firstReloadRetry
	return !r.reloadOwed || r.runReload(ctx)
}

func (r *renderer) runReload(ctx context.Context) bool {
	output, err := runShell(ctx, r.reload, nil, nil)
	if err != nil {
		logLine("error", "reload failed; it will be run again", map[string]any{"reload": r.reload, "error": err.Error(), "output": output, "retryInMs": r.reloadDelay.Milliseconds()})
		return false
	}
	logLine("info", "reloaded", map[string]any{"reload": r.reload})
	r.reloadOwed = false
	return true
}

// runShell runs `sh -c command`, returning its combined output when it fails.
func runShell(ctx context.Context, command string, stdin []byte, extraEnv []string) (string, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Env = append(os.Environ(), extraEnv...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var output bytes.Buffer
	cmd.Stdout = os.Stdout
	cmd.Stderr = &output
	err := cmd.Run()
	os.Stderr.Write(output.Bytes())
	text := strings.TrimSpace(output.String())
	if len(text) > 2000 {
		text = text[len(text)-2000:]
	}
	return text, err
}

func watch(o *options) error {
	s, err := resolve(o)
	if err != nil {
		return err
	}
	services := o.args
	if len(services) == 0 {
		services = list(os.Getenv("WATCHES"))
	}
	if len(services) == 0 {
		return usageError{"nothing to watch: name services (watch web redis) or set WATCHES"}
	}
	sort.Strings(services)
	for _, service := range services {
		if err := checkName("service", service); err != nil {
			return err
		}
	}
	coalesceDefault, err := strconv.Atoi(firstOf(env("WATCH_COALESCE_MS"), defaultCoalesceMs))
	if err != nil || coalesceDefault < 0 {
		return usageError{fmt.Sprintf("WATCH_COALESCE_MS must be a whole number, got %q", env("WATCH_COALESCE_MS"))}
	}
	coalesceMs, err := o.wholeNumber("coalesce-ms", coalesceDefault)
	if err != nil {
		return err
	}
	labels := list(o.values["labels"])
	var rend *renderer
	if source := o.values["template"]; source != "" {
		if o.values["out"] == "" {
			return usageError{"--template needs --out <file>"}
		}
		t, err := loadTemplate(source)
		if err != nil {
			return err
		}
		rend = &renderer{template: t, source: source, out: o.values["out"], check: o.values["check"], reload: o.values["reload"], reloadDelay: firstReloadRetry}
	} else if o.values["out"] != "" || o.values["check"] != "" || o.values["reload"] != "" {
		return usageError{"--out, --check and --reload go with --template"}
	}
	command := o.values["exec"]
	if command != "" && rend != nil {
		return usageError{"--exec and --template are two ways to act: use one"}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	client, err := newEtcdClient(s.endpoints, 5*time.Second)
	if err != nil {
		return err
	}
	l := layout{s.prefix}
	updates := make(chan update)
	fatal := make(chan error)
	for _, service := range services {
		go follow(ctx, client, l, s.namespace, service, updates, fatal)
	}

	latest := map[string]serviceState{}
	reported := map[string]serviceState{}
	dirty := map[string]bool{}
	var timer <-chan time.Time
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			logLine("info", "stopping", nil)
			return nil
		case err := <-fatal:
			return err
		case u := <-updates:
			state := u.state.filtered(labels)
			if _, seen := latest[u.service]; !seen {
				logLine("info", "watching", map[string]any{"service": u.service, "namespace": s.namespace, "instances": len(state.records), "revision": strconv.FormatInt(state.revision, 10)})
				if o.flags["no-initial"] {
					reported[u.service] = state
				}
			}
			latest[u.service] = state
			dirty[u.service] = true
			if timer == nil && len(latest) == len(services) {
				timer = time.After(time.Duration(coalesceMs) * time.Millisecond)
			}
			continue
		case <-timer:
			timer = nil
		case <-retry:
			retry = nil
		}
		// Act: once every service has been read, on the changes gathered in the window.
		for _, service := range services {
			if !dirty[service] {
				continue
			}
			before, ok := reported[service]
			if !ok {
				before = serviceState{records: map[string]*record{}}
			}
			d := diff(s.namespace, service, before, latest[service])
			if d.empty() {
				delete(dirty, service)
				continue
			}
			payload, _ := json.Marshal(d)
			ok = true
			if command != "" {
				extra := []string{"THESEUS_SERVICE=" + service}
				if len(payload) <= maxDeltaVariable {
					extra = append(extra, "THESEUS_DELTA="+string(payload))
				}
				if output, err := runShell(ctx, command, payload, extra); err != nil {
					ok = false
					logLine("error", "the command failed; the change is delivered again with the next one", map[string]any{"service": service, "exec": command, "error": err.Error(), "output": output, "revision": d.Revision})
				}
			} else if rend == nil {
				fmt.Println(string(payload))
			}
			if ok && rend == nil {
				reported[service] = latest[service]
				delete(dirty, service)
			}
		}
		if rend != nil {
			data := &templateData{Namespace: s.namespace, Services: map[string][]*record{}}
			for _, service := range services {
				data.Services[service] = latest[service].sorted()
			}
			if rend.render(ctx, data) {
				for _, service := range services {
					reported[service] = latest[service]
					delete(dirty, service)
				}
			} else if rend.reloadOwed {
				retry = time.After(rend.reloadDelay)
				if rend.reloadDelay *= 2; rend.reloadDelay > maxReloadRetry {
					rend.reloadDelay = maxReloadRetry
				}
			}
		}
	}
}
