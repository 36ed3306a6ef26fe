package mesh

import (
	"github.com/prometheus/client_golang/prometheus"
)

// StatsSource is what a Collector reads: a *Proxy.
type StatsSource interface {
	Stats() Stats
}

// Collector exports a proxy's Stats as Prometheus metrics, read at each
// scrape: register it with reg.MustRegister(mesh.NewCollector(proxy)).
// Backend series carry the labels service, backend (the ID) and version.
type Collector struct {
	src StatsSource

	tableVersion, accepted, refused, requests, errors, bytes, active, firstByte, duration *prometheus.Desc
}

// NewCollector returns a Collector of src's statistics.
func NewCollector(src StatsSource) *Collector {
	be := []string{"service", "backend", "version"}
	return &Collector{
		src:          src,
		tableVersion: prometheus.NewDesc("swarm_mesh_table_version", "Mesh routing table version the proxy's listeners follow.", nil, nil),
		accepted:     prometheus.NewDesc("swarm_mesh_accepted_total", "Client connections the mesh proxy accepted, by service.", []string{"service"}, nil),
		refused:      prometheus.NewDesc("swarm_mesh_refused_total", "Accepted connections reset without a backend (no backend with a weight above 0, or every dial failed), by service.", []string{"service"}, nil),
		requests:     prometheus.NewDesc("swarm_mesh_requests_total", "Connections (L4 requests) routed to a backend, failed dials included.", be, nil),
		errors:       prometheus.NewDesc("swarm_mesh_errors_total", "Backend errors by kind: dial (failed or timed out) and reset (a connection that ended abnormally).", append(be, "kind"), nil),
		bytes:        prometheus.NewDesc("swarm_mesh_bytes_total", "Payload bytes through the mesh proxy, by direction (to_backend, from_backend).", append(be, "direction"), nil),
		active:       prometheus.NewDesc("swarm_mesh_active_connections", "Connections open to a backend now.", be, nil),
		firstByte:    prometheus.NewDesc("swarm_mesh_first_byte_seconds", "Time from accepting a connection to the backend's first byte, dial included.", be, nil),
		duration:     prometheus.NewDesc("swarm_mesh_connection_seconds", "Time from accepting a connection to its end, for connections that reached a backend.", be, nil),
	}
}

// Describe sends the descriptors of every metric the collector makes.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.tableVersion, c.accepted, c.refused, c.requests, c.errors, c.bytes, c.active, c.firstByte, c.duration} {
		ch <- d
	}
}

// Collect sends the current statistics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stats()
	ch <- prometheus.MustNewConstMetric(c.tableVersion, prometheus.GaugeValue, float64(st.TableVersion))
	for _, s := range st.Services {
		ch <- prometheus.MustNewConstMetric(c.accepted, prometheus.CounterValue, float64(s.Accepted), s.Name)
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(s.Refused), s.Name)
		for _, b := range s.Backends {
			l := []string{s.Name, b.ID, b.Version}
			ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(b.Requests), l...)
			ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(b.DialErrors), append(l, "dial")...)
			ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(b.Resets), append(l, "reset")...)
			ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(b.BytesToBackend), append(l, "to_backend")...)
			ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(b.BytesFromBackend), append(l, "from_backend")...)
			ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(b.Active), l...)
			ch <- constHistogram(c.firstByte, b.FirstByte, l)
			ch <- constHistogram(c.duration, b.Duration, l)
		}
	}
}

// constHistogram converts a Histogram to a Prometheus histogram (cumulative
// buckets, seconds).
func constHistogram(d *prometheus.Desc, h Histogram, labels []string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var cum uint64
	for i, b := range h.Bounds {
		cum += h.Counts[i]
		buckets[b.Seconds()] = cum
	}
	return prometheus.MustNewConstHistogram(d, h.Count, h.Sum.Seconds(), buckets, labels...)
}
