package main

// etcd credentials and TLS, read from the same variables, with the same precedence, as the Node
// guest kit: ETCD_USERNAME with ETCD_PASSWORD or ETCD_PASSWORD_FILE; ETCD_CA (PEM) or ETCD_CA_FILE;
// a client certificate from ETCD_CERT and ETCD_KEY (PEM) or ETCD_CERT_FILE and ETCD_KEY_FILE;
// ETCD_SERVER_NAME, the name etcd's certificate is checked against when endpoints are IP addresses.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

type etcdAccess struct {
	username   string
	password   string
	ca         []byte
	caFrom     string
	cert       []byte
	key        []byte
	serverName string
}

// envError: a variable is set but its value cannot be used (exit 1, like a missing answer). Passwords
// are never part of the message.
type envError struct{ message string }

func (e envError) Error() string { return e.message }

func invalidEnv(variable, value, expected string) error {
	return envError{fmt.Sprintf("%s=%q is not %s", variable, value, expected)}
}

func readVariableFile(variable string) ([]byte, string, error) {
	path := env(variable)
	if path == "" {
		return nil, "", nil
	}
	content, err := os.ReadFile(path)
	if err != nil {
		reason := err.Error()
		var pathErr *os.PathError
		if errors.As(err, &pathErr) {
			reason = pathErr.Err.Error()
		}
		return nil, path, invalidEnv(variable, path, "a readable file ("+reason+")")
	}
	return content, path, nil
}

func accessFromEnv() (etcdAccess, error) {
	var a etcdAccess
	a.username = env("ETCD_USERNAME")
	if password, set := os.LookupEnv("ETCD_PASSWORD"); set {
		a.password = password
	} else {
		content, _, err := readVariableFile("ETCD_PASSWORD_FILE")
		if err != nil {
			return a, err
		}
		// One line ending is the file's, not the password's.
		a.password = string(content)
		if strings.HasSuffix(a.password, "\r\n") {
			a.password = a.password[:len(a.password)-2]
		} else if strings.HasSuffix(a.password, "\n") {
			a.password = a.password[:len(a.password)-1]
		}
	}
	if a.username != "" && a.password == "" {
		return a, invalidEnv("ETCD_USERNAME", a.username, "usable without ETCD_PASSWORD or ETCD_PASSWORD_FILE")
	}
	if a.username == "" {
		a.password = ""
	}
	if pem := env("ETCD_CA"); pem != "" {
		a.ca, a.caFrom = []byte(pem), "ETCD_CA"
	} else {
		content, _, err := readVariableFile("ETCD_CA_FILE")
		if err != nil {
			return a, err
		}
		a.ca, a.caFrom = content, "ETCD_CA_FILE"
	}
	pem := func(variable string) ([]byte, error) {
		if value := env(variable); value != "" {
			return []byte(value), nil
		}
		content, _, err := readVariableFile(variable + "_FILE")
		return content, err
	}
	var err error
	if a.cert, err = pem("ETCD_CERT"); err != nil {
		return a, err
	}
	if a.key, err = pem("ETCD_KEY"); err != nil {
		return a, err
	}
	if (len(a.cert) == 0) != (len(a.key) == 0) {
		missing := "ETCD_CERT"
		if len(a.key) == 0 {
			missing = "ETCD_KEY"
		}
		return a, invalidEnv(missing, "", "set: a client certificate needs a certificate and a key (ETCD_CERT and ETCD_KEY, or ETCD_CERT_FILE and ETCD_KEY_FILE)")
	}
	a.serverName = env("ETCD_SERVER_NAME")
	return a, nil
}

// httpClient speaks TLS with the CA given (else the system's) and the client certificate given.
func (a etcdAccess) httpClient() (*http.Client, error) {
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(a.ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(a.ca) {
			return nil, envError{fmt.Sprintf("%s holds no PEM certificate", a.caFrom)}
		}
		config.RootCAs = pool
	}
	if len(a.cert) > 0 {
		pair, err := tls.X509KeyPair(a.cert, a.key)
		if err != nil {
			return nil, envError{fmt.Sprintf("the client certificate and key (ETCD_CERT/ETCD_KEY or ETCD_CERT_FILE/ETCD_KEY_FILE) are not a usable pair: %v", err)}
		}
		config.Certificates = []tls.Certificate{pair}
	}
	config.ServerName = a.serverName
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = config
	transport.TLSHandshakeTimeout = 5 * time.Second
	return &http.Client{Transport: transport}, nil
}
