package main

// etcd credentials and TLS, read from the same variables, with the same precedence, as the Node
// guest kit: ETCD_USERNAME with ETCD_PASSWORD or ETCD_PASSWORD_FILE; ETCD_CA (PEM) or ETCD_CA_FILE;
// ETCD_CERT_FILE with ETCD_KEY_FILE for a client certificate.

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
	username string
	password string
	ca       []byte
	caFrom   string
	certFile string
	keyFile  string
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
	a.certFile, a.keyFile = env("ETCD_CERT_FILE"), env("ETCD_KEY_FILE")
	if (a.certFile == "") != (a.keyFile == "") {
		missing := "ETCD_CERT_FILE"
		if a.keyFile == "" {
			missing = "ETCD_KEY_FILE"
		}
		return a, invalidEnv(missing, "", "set: a client certificate needs ETCD_CERT_FILE and ETCD_KEY_FILE")
	}
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
	if a.certFile != "" {
		pair, err := tls.LoadX509KeyPair(a.certFile, a.keyFile)
		if err != nil {
			return nil, envError{fmt.Sprintf("ETCD_CERT_FILE=%q with ETCD_KEY_FILE=%q is not a usable certificate and key (%v)", a.certFile, a.keyFile, err)}
		}
		config.Certificates = []tls.Certificate{pair}
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = config
	transport.TLSHandshakeTimeout = 5 * time.Second
	return &http.Client{Transport: transport}, nil
}
