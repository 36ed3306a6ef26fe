package server

import (
	"regexp"
	"strconv"

	"github.com/stratoswarm/stratoswarm/host/store"
)

var (
	dnsLabel     = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	labelKey     = regexp.MustCompile(`^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	labelValue   = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
)

// checkName validates a resource name as a DNS label.
func checkName(field, name string) error {
	if name == "" {
		return invalidField(field, "is required")
	}
	if !dnsLabel.MatchString(name) {
		return invalidField(field, "%q must be 1-63 lowercase letters, digits or '-', start with a letter and end with a letter or digit", name)
	}
	return nil
}

// checkNodeName validates a node name as a DNS subdomain (hostnames).
func checkNodeName(field, name string) error {
	if name == "" {
		return invalidField(field, "is required")
	}
	if len(name) > 253 || !dnsSubdomain.MatchString(name) {
		return invalidField(field, "%q must be a lowercase DNS name of at most 253 characters", name)
	}
	return nil
}

// checkLabels validates label keys and values as Kubernetes does.
func checkLabels(field string, labels map[string]string) error {
	for k, v := range labels {
		if len(k) > 317 || !labelKey.MatchString(k) {
			return invalidField(field, "key %q must be an optional DNS prefix and '/', then up to 63 letters, digits, '-', '_' or '.'", k)
		}
		if !labelValue.MatchString(v) {
			return invalidField(field+"["+strconv.Quote(k)+"]", "value %q must be at most 63 letters, digits, '-', '_' or '.'", v)
		}
	}
	return nil
}

// listOptions turns a request's paging and selector fields into store options.
func listOptions(pageSize int32, pageToken, labelSelector string) (store.ListOptions, error) {
	if pageSize < 0 {
		return store.ListOptions{}, invalidField("page_size", "%d must not be negative", pageSize)
	}
	sel, err := store.ParseSelector(labelSelector)
	if err != nil {
		return store.ListOptions{}, invalidField("label_selector", "%v", err)
	}
	return store.ListOptions{PageSize: int(pageSize), PageToken: pageToken, Selector: sel}, nil
}

// checkRequestID bounds an idempotency key.
func checkRequestID(id string) error {
	if len(id) > 128 {
		return invalidField("request_id", "must be at most 128 characters, got %d", len(id))
	}
	return nil
}
