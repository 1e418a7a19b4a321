// Package tracing exports OpenTelemetry traces over OTLP/HTTP (protobuf)
// to the collector the operator names, and does nothing when none is
// named: the rest of Portico then gets no tracer at all, and its request
// path does no tracing work.
//
// The exporter takes the standard OTEL_EXPORTER_OTLP_* settings from the
// environment (headers, timeout, compression, certificates), and the
// provider the standard sampler settings (OTEL_TRACES_SAMPLER, default:
// every trace, or as a trusted proxy's traceparent says). The resource
// is service.name "portico" with the version, which OTEL_SERVICE_NAME
// and OTEL_RESOURCE_ATTRIBUTES override.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Config says where traces go.
type Config struct {
	// Endpoint is the base URL of an OTLP/HTTP receiver, such as
	// http://collector:4318; spans are posted to Endpoint/v1/traces.
	// "" lets the exporter read OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_EXPORTER_OTLP_ENDPOINT.
	Endpoint string
	// Version is the service.version of the spans.
	Version string
	// Logger receives export failures.
	Logger *slog.Logger
}

// Tracing is a running exporter.
type Tracing struct {
	provider *sdktrace.TracerProvider
}

// errorHandlerOnce sets the OpenTelemetry error handler, a process-wide
// setting, once.
var errorHandlerOnce sync.Once

// New starts exporting. It does not connect: a collector that is down
// costs dropped spans and a warning per failed export, never a request.
func New(ctx context.Context, cfg Config) (*Tracing, error) {
	var opts []otlptracehttp.Option
	if cfg.Endpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimSuffix(cfg.Endpoint, "/")+"/v1/traces"))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "portico"), attribute.String("service.version", cfg.Version)),
		resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	if cfg.Logger != nil {
		log := cfg.Logger
		errorHandlerOnce.Do(func() {
			otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
				log.Warn("exporting traces", "err", err)
			}))
		})
	}
	return &Tracing{provider: sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))}, nil
}

// Tracer returns the tracer of one part of Portico; nil on a nil
// Tracing, which is how the parts learn that tracing is off.
func (t *Tracing) Tracer(name string) trace.Tracer {
	if t == nil {
		return nil
	}
	return t.provider.Tracer(name)
}

// Shutdown exports the spans still queued, until ctx ends.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}
