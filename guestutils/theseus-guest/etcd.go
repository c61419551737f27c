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
	"sync"
	"time"
)

type etcdClient struct {
	endpoints []string
	http      *http.Client
	timeout   time.Duration
	access    etcdAccess
	mu        sync.Mutex
	// The endpoint that answered last is tried first.
	preferred int
	// The auth token of the user (etcd's simple tokens are per member and expire: renewed when refused).
	token string
}

// authError: etcd refused who we are, or what we may read. Asking another member or again will not help.
type authError struct{ message string }

func (e authError) Error() string { return e.message }

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

func newEtcdClient(endpoints []string, timeout time.Duration) (*etcdClient, error) {
	access, err := accessFromEnv()
	if err != nil {
		return nil, err
	}
	client, err := access.httpClient()
	if err != nil {
		return nil, err
	}
	return &etcdClient{endpoints: endpoints, http: client, timeout: timeout, access: access}, nil
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
	c.mu.Lock()
	start := c.preferred
	c.mu.Unlock()
	var failures []string
	for i := 0; i < len(c.endpoints); i++ {
		index := (start + i) % len(c.endpoints)
		resp, err := c.send(ctx, strings.TrimRight(c.endpoints[index], "/"), path, payload)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if _, refused := err.(authError); refused {
				return nil, err
			}
			failures = append(failures, err.Error())
			continue
		}
		c.mu.Lock()
		c.preferred = index
		c.mu.Unlock()
		return resp, nil
	}
	return nil, fmt.Errorf("etcd is unreachable (%s)", strings.Join(failures, "; "))
}

// send asks one endpoint, as the user when there is one: authenticated first when no token is
// held, and once more when etcd no longer accepts the token (expired, or issued by another member).
func (c *etcdClient) send(ctx context.Context, endpoint, path string, payload []byte) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		token, err := c.currentToken(ctx, endpoint)
		if err != nil {
			return nil, err
		}
		resp, err := c.request(ctx, endpoint+path, payload, token)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusOK {
			return resp, nil
		}
		message := etcdError(resp)
		if token != "" && attempt == 0 && strings.Contains(message, "invalid auth token") {
			c.dropToken(token)
			continue
		}
		if err := c.refusal(endpoint, path, message); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s%s answered %d: %s", endpoint, path, resp.StatusCode, message)
	}
}

func (c *etcdClient) request(ctx context.Context, url string, payload []byte, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("etcd endpoint %q: %v", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	return c.http.Do(req)
}

// refusal is the authError for an answer saying etcd will not serve us as we are, else nil.
func (c *etcdClient) refusal(endpoint, path, message string) error {
	switch {
	case strings.Contains(message, "user name is empty"):
		return authError{fmt.Sprintf("%s requires a user: set ETCD_USERNAME and ETCD_PASSWORD or ETCD_PASSWORD_FILE", endpoint)}
	case strings.Contains(message, "CommonName of client sending a request against gateway"):
		return authError{fmt.Sprintf("%s refuses a client certificate with a Common Name on its HTTP gateway while it checks users and client certificates: use a certificate without one (ETCD_CERT_FILE), with ETCD_USERNAME and a password", endpoint)}
	case strings.Contains(message, "permission denied") && c.access.username == "":
		return authError{fmt.Sprintf("%s refused to serve without a user (permission denied for %s): set ETCD_USERNAME and ETCD_PASSWORD or ETCD_PASSWORD_FILE", endpoint, path)}
	case strings.Contains(message, "permission denied"):
		return authError{fmt.Sprintf("%s refused user %q: permission denied for %s", endpoint, c.access.username, path)}
	}
	return nil
}

// etcdError is the message of an error answer of the gateway ({"error": ..., "code": ..., "message": ...}).
func etcdError(resp *http.Response) string {
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	var body struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(text, &body) == nil && firstOf(body.Message, body.Error) != "" {
		return firstOf(body.Message, body.Error)
	}
	return strings.TrimSpace(string(text))
}

func (c *etcdClient) currentToken(ctx context.Context, endpoint string) (string, error) {
	if c.access.username == "" {
		return "", nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" {
		return c.token, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	payload, _ := json.Marshal(map[string]string{"name": c.access.username, "password": c.access.password})
	resp, err := c.request(ctx, endpoint+"/v3/auth/authenticate", payload, "")
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		message := etcdError(resp)
		if strings.Contains(message, "authentication is not enabled") {
			return "", nil
		}
		if strings.Contains(message, "authentication failed") {
			return "", authError{fmt.Sprintf("%s refused user %q: wrong password or no such user (ETCD_USERNAME, ETCD_PASSWORD or ETCD_PASSWORD_FILE)", endpoint, c.access.username)}
		}
		if err := c.refusal(endpoint, "/v3/auth/authenticate", message); err != nil {
			return "", err
		}
		return "", fmt.Errorf("%s did not authenticate user %q: %s", endpoint, c.access.username, message)
	}
	defer resp.Body.Close()
	var answer struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || answer.Token == "" {
		return "", fmt.Errorf("%s answered authentication without a token", endpoint)
	}
	c.token = answer.Token
	return c.token, nil
}

func (c *etcdClient) forgetToken() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token = ""
}

func (c *etcdClient) dropToken(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == token {
		c.token = ""
	}
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
			if strings.Contains(message.Result.CancelReason, "permission denied") || strings.Contains(message.Result.CancelReason, "auth") {
				c.forgetToken()
			}
			return fmt.Errorf("etcd canceled the watch (compacted to %s) %s", message.Result.CompactRevision, message.Result.CancelReason)
		}
		if len(message.Result.Events) > 0 {
			return nil
		}
	}
}
