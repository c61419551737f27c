package main

// Endpoint records as the subscriber writes them (<prefix>/v1/endpoints/<namespace>/<service>/<taskId>,
// JSON, format version 1). A record is kept with its original JSON so that what is handed on (deltas,
// --json) is exactly what was stored.

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

const layoutVersion = "v1"

type portMapping struct {
	Host      *int   `json:"host"`
	Container *int   `json:"container"`
	Protocol  string `json:"protocol"`
}

type record struct {
	V          int                    `json:"v"`
	Cluster    string                 `json:"cluster"`
	Namespace  string                 `json:"namespace"`
	Service    string                 `json:"service"`
	Labels     []string               `json:"labels"`
	AppID      string                 `json:"appId"`
	TaskID     string                 `json:"taskId"`
	AppVersion string                 `json:"appVersion"`
	Host       string                 `json:"host"`
	Ports      map[string]portMapping `json:"ports"`
	Healthy    *bool                  `json:"healthy"`
	raw        json.RawMessage
	// The record without updatedAt, canonical: equal for records describing the same state.
	identity string
}

func (r *record) MarshalJSON() ([]byte, error) { return r.raw, nil }

// IsHealthy is false only when health checks fail (an app without checks counts as healthy).
func (r *record) IsHealthy() bool { return r.Healthy == nil || *r.Healthy }

// HostPort is the host port of a named port, 0 when there is none.
func (r *record) HostPort(name string) int {
	if p, ok := r.Ports[name]; ok && p.Host != nil {
		return *p.Host
	}
	return 0
}

// Address is host:port for a named port ("" when the port has no host port).
func (r *record) Address(name string) string {
	port := r.HostPort(name)
	if port == 0 {
		return ""
	}
	return fmt.Sprintf("%s:%d", r.Host, port)
}

func (r *record) hasLabels(wanted []string) bool {
	for _, w := range wanted {
		found := false
		for _, l := range r.Labels {
			if l == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func decodeRecord(key string, value []byte, namespace, service, taskID string) (*record, error) {
	var r record
	if err := json.Unmarshal(value, &r); err != nil {
		return nil, fmt.Errorf("%s is not a valid endpoint record: %v", key, err)
	}
	if r.V != 1 {
		return nil, fmt.Errorf("%s has record format %d, expected 1", key, r.V)
	}
	if r.Namespace != namespace || r.Service != service || r.TaskID != taskID {
		return nil, fmt.Errorf("%s holds the record of another task (%s/%s/%s)", key, r.Namespace, r.Service, r.TaskID)
	}
	if r.Host == "" {
		return nil, fmt.Errorf("%s has no host", key)
	}
	var fields map[string]any
	if err := json.Unmarshal(value, &fields); err != nil {
		return nil, err
	}
	delete(fields, "updatedAt")
	identity, _ := json.Marshal(fields) // map keys come out sorted
	r.raw = append(json.RawMessage(nil), value...)
	r.identity = string(identity)
	return &r, nil
}

type layout struct{ prefix string }

func (l layout) service(namespace, service string) string {
	return fmt.Sprintf("%s/%s/endpoints/%s/%s/", l.prefix, layoutVersion, namespace, service)
}

// serviceState is a service's records by task id, at an etcd revision.
type serviceState struct {
	records  map[string]*record
	revision int64
}

func (s serviceState) sorted() []*record {
	ids := make([]string, 0, len(s.records))
	for id := range s.records {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]*record, len(ids))
	for i, id := range ids {
		out[i] = s.records[id]
	}
	return out
}

// readService is one range read of a service's records; records that do not decode are reported and skipped.
func readService(ctx context.Context, c *etcdClient, l layout, namespace, service string, invalid func(error)) (serviceState, error) {
	prefix := l.service(namespace, service)
	resp, err := c.rangePrefix(ctx, prefix)
	if err != nil {
		return serviceState{}, err
	}
	state := serviceState{records: map[string]*record{}}
	fmt.Sscan(resp.Header.Revision, &state.revision)
	for _, kv := range resp.Kvs {
		key, err := unb64(kv.Key)
		if err != nil {
			continue
		}
		value, err := unb64(kv.Value)
		if err != nil {
			invalid(fmt.Errorf("%s: value is not base64", key))
			continue
		}
		taskID := strings.TrimPrefix(key, prefix)
		if taskID == "" || strings.Contains(taskID, "/") {
			continue
		}
		r, err := decodeRecord(key, []byte(value), namespace, service, taskID)
		if err != nil {
			invalid(err)
			continue
		}
		state.records[taskID] = r
	}
	return state, nil
}

type change struct {
	Before *record `json:"before"`
	After  *record `json:"after"`
}

// delta has the shape of the Node watcher's EndpointDelta.
type delta struct {
	Namespace string    `json:"namespace"`
	Service   string    `json:"service"`
	Added     []*record `json:"added"`
	Removed   []*record `json:"removed"`
	Changed   []change  `json:"changed"`
	Current   []*record `json:"current"`
	Revision  string    `json:"revision"`
}

func (d delta) empty() bool { return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0 }

func diff(namespace, service string, before, after serviceState) delta {
	d := delta{Namespace: namespace, Service: service, Added: []*record{}, Removed: []*record{}, Changed: []change{}, Current: after.sorted(), Revision: fmt.Sprint(after.revision)}
	for _, now := range d.Current {
		was, ok := before.records[now.TaskID]
		if !ok {
			d.Added = append(d.Added, now)
		} else if was.identity != now.identity {
			d.Changed = append(d.Changed, change{Before: was, After: now})
		}
	}
	for _, was := range before.sorted() {
		if _, ok := after.records[was.TaskID]; !ok {
			d.Removed = append(d.Removed, was)
		}
	}
	return d
}

// filtered keeps the records carrying every label in labels.
func (s serviceState) filtered(labels []string) serviceState {
	if len(labels) == 0 {
		return s
	}
	out := serviceState{records: map[string]*record{}, revision: s.revision}
	for id, r := range s.records {
		if r.hasLabels(labels) {
			out.records[id] = r
		}
	}
	return out
}
