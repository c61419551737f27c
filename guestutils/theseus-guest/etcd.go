package main

// etcd through its HTTP/JSON gateway (/v3/kv/range, /v3/watch): no gRPC, no client library, so the
// program stays one static file. Keys and values travel base64-encoded; revisions as decimal strings.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type etcdClient struct {
	endpoints []string
	http      *http.Client
	timeout   time.Duration
	// The endpoint that answered last is tried first.
	preferred int
}

type keyValue struct {
	Key         string `json:"key"`
	Value       string `json:"value"`
	ModRevision string `json:"mod_revision"`
}

type responseHeader struct {
	Revision string `json:"revision"`
}

type rangeResponse struct {
	Header responseHeader `json:"header"`
	Kvs    []keyValue     `json:"kvs"`
}

func newEtcdClient(endpoints []string, timeout time.Duration) *etcdClient {
	return &etcdClient{endpoints: endpoints, http: &http.Client{}, timeout: timeout}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func unb64(s string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	return string(raw), err
}

// prefixEnd is the range end that makes a range read cover every key starting with prefix.
func prefixEnd(prefix string) string {
	end := []byte(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return string(end[:i+1])
		}
	}
	return "\x00"
}

// post sends a JSON request to each endpoint in turn until one answers.
func (c *etcdClient) post(ctx context.Context, path string, body any) (*http.Response, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	var failures []string
	for i := 0; i < len(c.endpoints); i++ {
		index := (c.preferred + i) % len(c.endpoints)
		url := strings.TrimRight(c.endpoints[index], "/") + path
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
		if err != nil {
			return nil, fmt.Errorf("etcd endpoint %q: %v", c.endpoints[index], err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			failures = append(failures, err.Error())
			continue
		}
		if resp.StatusCode != http.StatusOK {
			text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			failures = append(failures, fmt.Sprintf("%s answered %d: %s", url, resp.StatusCode, strings.TrimSpace(string(text))))
			continue
		}
		c.preferred = index
		return resp, nil
	}
	return nil, fmt.Errorf("etcd is unreachable (%s)", strings.Join(failures, "; "))
}

// rangePrefix reads every key under prefix: one range read, with the revision it reflects.
func (c *etcdClient) rangePrefix(ctx context.Context, prefix string) (*rangeResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.post(ctx, "/v3/kv/range", map[string]string{"key": b64(prefix), "range_end": b64(prefixEnd(prefix))})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out rangeResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("etcd range answer does not decode: %v", err)
	}
	return &out, nil
}

// watchPrefix blocks until a change under prefix after revision `after` is reported (returns nil),
// the watch ends (returns an error), or ctx is done.
func (c *etcdClient) watchPrefix(ctx context.Context, prefix string, after int64) error {
	dialCtx, cancelDial := context.WithCancel(ctx)
	defer cancelDial()
	request := map[string]any{"create_request": map[string]any{
		"key": b64(prefix), "range_end": b64(prefixEnd(prefix)), "start_revision": strconv.FormatInt(after+1, 10),
	}}
	resp, err := c.post(dialCtx, "/v3/watch", request)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reader := bufio.NewReader(resp.Body)
	decoder := json.NewDecoder(reader)
	for {
		var message struct {
			Result *struct {
				Created         bool              `json:"created"`
				Canceled        bool              `json:"canceled"`
				CompactRevision string            `json:"compact_revision"`
				CancelReason    string            `json:"cancel_reason"`
				Events          []json.RawMessage `json:"events"`
			} `json:"result"`
			Error *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := decoder.Decode(&message); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("etcd watch stream ended: %v", err)
		}
		if message.Error != nil {
			return fmt.Errorf("etcd watch failed: %s", message.Error.Message)
		}
		if message.Result == nil {
			continue
		}
		if message.Result.Canceled {
			return fmt.Errorf("etcd canceled the watch (compacted to %s) %s", message.Result.CompactRevision, message.Result.CancelReason)
		}
		if len(message.Result.Events) > 0 {
			return nil
		}
	}
}
