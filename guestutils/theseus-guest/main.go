// theseus-guest: service discovery for any Linux container, as one static file. It reads the
// endpoint records the subscriber keeps in etcd through etcd's HTTP/JSON gateway and the variables
// the deployer and the scheduler set, and answers what `theseus guest` and `theseus watch` answer.
//
// Exit codes: 0 answered, 1 no answer (what is missing is named on stderr), 2 misuse.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Set at build time from the settings schema (guestutils/scripts/build-guest.mjs), so that each
// default is defined once.
var (
	defaultEtcdEndpoints string
	defaultEtcdPrefix    string
	defaultCoalesceMs    string
)

const usage = `Usage: theseus-guest <command> [arguments] [options]

Commands:
  node-list <service>                         host[:port...] of each healthy instance, one a line
  endpoints <service>                         the endpoint record of each healthy instance, one JSON a line
  port <name>                                 the port this container listens on for a named port
  host                                        the address of the host this container runs on
  specific-host <service> <container>         the host of one container (task id)
  specific-port <service> <container> <port>  the host port of one container's named port
  environment-name | service-name | container-name
  watch [service...]                          follow services (default: WATCHES) and act on each change

Options:
  --ports a,b            port names for node-list (each node is host:port_a:port_b)
  --labels x,y           only instances with all these labels
  --minimum n            node-list: fewer instances than this is an error (default 1)
  --include-unhealthy    count instances whose health checks fail
  --default n            port answers: this when the port does not exist
  --json                 print the answer as JSON
  --namespace ns         look peers up in this namespace (default: ENVIRONMENT_NAME)
  --etcd url,url         etcd client URLs (default: ETCD_ENDPOINTS, else %s)
  --prefix /p            key prefix of the endpoint records (default: THESEUS_ETCD_PREFIX, else %s)

Watch options:
  (none)                 print each change as one JSON line (the delta)
  --exec 'command'       run the command (sh -c) on each change: the delta as JSON on stdin and in
                         THESEUS_DELTA; runs never overlap; a failed run is retried with the next change
  --template t --out f   render the watched services' endpoints through the Go template t into f,
                         written atomically and only when it changed
  --check 'cmd {{out}}'  validate the rendered file first ({{out}} is the temporary file); on failure
                         the old file stays
  --reload 'cmd'         run after f changed; a failure is reported and retried
  --coalesce-ms n        changes within this window are one change (default: WATCH_COALESCE_MS, else %s)
  --no-initial           do not report the instances already running at start
`

type options struct {
	values map[string]string
	flags  map[string]bool
	args   []string
}

var valueOptions = map[string]bool{
	"ports": true, "labels": true, "minimum": true, "default": true, "namespace": true, "etcd": true, "prefix": true,
	"exec": true, "template": true, "out": true, "check": true, "reload": true, "coalesce-ms": true,
}
var flagOptions = map[string]bool{"json": true, "include-unhealthy": true, "no-initial": true, "help": true}

type usageError struct{ message string }

func (e usageError) Error() string { return e.message }

func parseOptions(argv []string) (*options, error) {
	o := &options{values: map[string]string{}, flags: map[string]bool{}}
	for i := 0; i < len(argv); i++ {
		arg := argv[i]
		if arg == "-h" {
			arg = "--help"
		}
		if arg == "--" {
			o.args = append(o.args, argv[i+1:]...)
			break
		}
		if !strings.HasPrefix(arg, "--") {
			o.args = append(o.args, arg)
			continue
		}
		name, value, hasValue := strings.Cut(arg[2:], "=")
		switch {
		case flagOptions[name] && !hasValue:
			o.flags[name] = true
		case valueOptions[name]:
			if !hasValue {
				if i+1 >= len(argv) {
					return nil, usageError{fmt.Sprintf("--%s needs a value", name)}
				}
				i++
				value = argv[i]
			}
			o.values[name] = value
		default:
			return nil, usageError{fmt.Sprintf("unknown option --%s", name)}
		}
	}
	return o, nil
}

func list(value string) []string {
	var out []string
	for _, item := range strings.Split(value, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func (o *options) wholeNumber(name string, fallback int) (int, error) {
	raw, ok := o.values[name]
	if !ok {
		return fallback, nil
	}
	if !regexp.MustCompile(`^\d+$`).MatchString(raw) {
		return 0, usageError{fmt.Sprintf("--%s must be a whole number, got %q", name, raw)}
	}
	return strconv.Atoi(raw)
}

// notFound is a question without an answer: exit 1.
type notFound struct{ message string }

func (e notFound) Error() string { return e.message }

func env(names ...string) string {
	for _, name := range names {
		if value := strings.TrimSpace(os.Getenv(name)); value != "" {
			return value
		}
	}
	return ""
}

func required(what string, names ...string) (string, error) {
	if value := env(names...); value != "" {
		return value, nil
	}
	return "", notFound{fmt.Sprintf("%s: %s is not set (set by Theseus in its containers; set it yourself when running elsewhere)", what, strings.Join(names, " or "))}
}

func envName(name string) string {
	return strings.ToUpper(regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(name, "_"))
}

// settings resolved from options, then the environment, then the built-in defaults.
type settings struct {
	endpoints []string
	prefix    string
	namespace string
}

func resolve(o *options) (settings, error) {
	s := settings{
		endpoints: list(firstOf(o.values["etcd"], env("ETCD_ENDPOINTS"), defaultEtcdEndpoints)),
		prefix:    firstOf(o.values["prefix"], env("THESEUS_ETCD_PREFIX"), defaultEtcdPrefix),
		namespace: firstOf(o.values["namespace"], env("ENVIRONMENT_NAME")),
	}
	if len(s.endpoints) == 0 {
		return s, usageError{"no etcd endpoint: set ETCD_ENDPOINTS or --etcd"}
	}
	for _, e := range s.endpoints {
		if !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://") {
			return s, usageError{fmt.Sprintf("etcd endpoint %q is not an http:// or https:// URL", e)}
		}
	}
	if !regexp.MustCompile(`^/[A-Za-z0-9._\-/]*[A-Za-z0-9._-]$`).MatchString(s.prefix) || strings.Contains(s.prefix, "//") {
		return s, usageError{fmt.Sprintf("invalid etcd prefix %q: expected an absolute path like /theseus", s.prefix)}
	}
	if s.namespace == "" {
		return s, notFound{"environment name: ENVIRONMENT_NAME is not set (or pass --namespace)"}
	}
	return s, nil
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func checkName(kind, value string) error {
	if value == "" || strings.Contains(value, "/") {
		return usageError{fmt.Sprintf("invalid %s %q", kind, value)}
	}
	return nil
}

func printAnswer(answer any, asJSON bool) {
	if asJSON {
		out, _ := json.Marshal(answer)
		fmt.Println(string(out))
		return
	}
	switch a := answer.(type) {
	case []string:
		for _, line := range a {
			fmt.Println(line)
		}
	case []*record:
		for _, r := range a {
			fmt.Println(string(r.raw))
		}
	default:
		fmt.Println(a)
	}
}

// ownPort: CONTAINER_PORT_<NAME>, or (host networking) PORT_<NAME>.
func ownPort(name string) (int, error) {
	for _, variable := range []string{"CONTAINER_PORT_" + envName(name), "PORT_" + envName(name)} {
		raw := strings.TrimSpace(os.Getenv(variable))
		if raw == "" {
			continue
		}
		port, err := strconv.Atoi(raw)
		if err != nil || port < 0 || port > 65535 {
			return 0, notFound{fmt.Sprintf("%s=%q is not a port number", variable, raw)}
		}
		if port > 0 {
			return port, nil
		}
	}
	return 0, notFound{fmt.Sprintf("port %q of this container not found (CONTAINER_PORT_%s and PORT_%s are not set)", name, envName(name), envName(name))}
}

func peers(o *options, service string) (settings, []*record, error) {
	s, err := resolve(o)
	if err != nil {
		return s, nil, err
	}
	if err := checkName("service", service); err != nil {
		return s, nil, err
	}
	client, err := newEtcdClient(s.endpoints, 5*time.Second)
	if err != nil {
		return s, nil, err
	}
	state, err := readService(context.Background(), client, layout{s.prefix}, s.namespace, service, func(err error) {
		fmt.Fprintf(os.Stderr, "theseus-guest: skipping %v\n", err)
	})
	if err != nil {
		return s, nil, err
	}
	var out []*record
	for _, r := range state.filtered(list(o.values["labels"])).sorted() {
		if o.flags["include-unhealthy"] || r.IsHealthy() {
			out = append(out, r)
		}
	}
	return s, out, nil
}

func specific(o *options, service, container string) (*record, error) {
	s, records, err := peers(withUnhealthy(o), service)
	if err != nil {
		return nil, err
	}
	for _, r := range records {
		if r.TaskID == container {
			return r, nil
		}
	}
	return nil, notFound{fmt.Sprintf("container %q of service %q in environment %q not found (the container is not running, or not registered yet)", container, service, s.namespace)}
}

func withUnhealthy(o *options) *options {
	copy := *o
	copy.flags = map[string]bool{"include-unhealthy": true}
	for k, v := range o.flags {
		copy.flags[k] = v
	}
	return &copy
}

func answer(command string, o *options) (any, error) {
	args := o.args
	need := func(names ...string) error {
		if len(args) != len(names) {
			return usageError{fmt.Sprintf("%s takes %s", command, strings.Join(names, " "))}
		}
		return nil
	}
	portDefault := func() (int, bool, error) {
		_, given := o.values["default"]
		n, err := o.wholeNumber("default", 0)
		return n, given, err
	}
	switch command {
	case "environment-name":
		return required("environment name", "ENVIRONMENT_NAME")
	case "service-name":
		return required("service name", "SERVICE_NAME")
	case "container-name":
		return required("container name", "CONTAINER_NAME", "MESOS_TASK_ID")
	case "host", "container-host-address":
		return required("container host address", "CONTAINER_HOST_ADDRESS", "HOST")
	case "port":
		if err := need("<name>"); err != nil {
			return nil, err
		}
		fallback, given, err := portDefault()
		if err != nil {
			return nil, err
		}
		port, err := ownPort(args[0])
		if err != nil && given {
			return fallback, nil
		}
		return port, err
	case "node-list", "endpoints":
		if err := need("<service>"); err != nil {
			return nil, err
		}
		minimum, err := o.wholeNumber("minimum", 1)
		if err != nil {
			return nil, err
		}
		s, records, err := peers(o, args[0])
		if err != nil {
			return nil, err
		}
		if len(records) < minimum {
			which := fmt.Sprintf("service %q", args[0])
			if labels := o.values["labels"]; labels != "" {
				which += " with labels " + labels
			}
			if len(records) == 0 {
				return nil, notFound{fmt.Sprintf("%s in environment %q has no running instances", which, s.namespace)}
			}
			return nil, notFound{fmt.Sprintf("%s in environment %q has %d running instances, fewer than the %d required", which, s.namespace, len(records), minimum)}
		}
		if command == "endpoints" {
			return records, nil
		}
		ports := list(o.values["ports"])
		nodes := []string{}
		for _, r := range records {
			node := r.Host
			for _, p := range ports {
				port := r.HostPort(p)
				if port == 0 {
					return nil, notFound{fmt.Sprintf("port %q of container %q of service %q not found", p, r.TaskID, args[0])}
				}
				node += ":" + strconv.Itoa(port)
			}
			nodes = append(nodes, node)
		}
		return nodes, nil
	case "specific-host":
		if err := need("<service>", "<container>"); err != nil {
			return nil, err
		}
		r, err := specific(o, args[0], args[1])
		if err != nil {
			return nil, err
		}
		return r.Host, nil
	case "specific-port":
		if err := need("<service>", "<container>", "<port>"); err != nil {
			return nil, err
		}
		fallback, given, err := portDefault()
		if err != nil {
			return nil, err
		}
		r, err := specific(o, args[0], args[1])
		if err == nil && r.HostPort(args[2]) == 0 {
			err = notFound{fmt.Sprintf("port %q of container %q of service %q has no host port", args[2], args[1], args[0])}
		}
		if err != nil {
			if _, missing := err.(notFound); missing && given {
				return fallback, nil
			}
			return nil, err
		}
		return r.HostPort(args[2]), nil
	}
	return nil, usageError{fmt.Sprintf("unknown command %q (see --help)", command)}
}

func commandName(name string) string {
	name = regexp.MustCompile(`([a-z0-9])([A-Z])`).ReplaceAllString(name, "$1-$2")
	name = strings.ReplaceAll(strings.ToLower(name), "_", "-")
	return strings.TrimPrefix(name, "get-")
}

func run(argv []string) int {
	if len(argv) == 0 {
		fmt.Fprintf(os.Stderr, usage, defaultEtcdEndpoints, defaultEtcdPrefix, defaultCoalesceMs)
		return 2
	}
	command := commandName(argv[0])
	o, err := parseOptions(argv[1:])
	if err == nil && (o.flags["help"] || command == "help" || command == "--help" || command == "-h") {
		fmt.Printf(usage, defaultEtcdEndpoints, defaultEtcdPrefix, defaultCoalesceMs)
		return 0
	}
	if err == nil {
		if command == "watch" {
			err = watch(o)
		} else {
			var a any
			if a, err = answer(command, o); err == nil {
				printAnswer(a, o.flags["json"])
				return 0
			}
		}
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(os.Stderr, "theseus-guest %s: %v\n", command, err)
	if _, misuse := err.(usageError); misuse {
		return 2
	}
	return 1
}

func main() {
	if defaultEtcdEndpoints == "" || defaultEtcdPrefix == "" || defaultCoalesceMs == "" {
		fmt.Fprintln(os.Stderr, "theseus-guest: built without its defaults (build it with guestutils/scripts/build-guest.mjs)")
		os.Exit(2)
	}
	os.Exit(run(os.Args[1:]))
}
