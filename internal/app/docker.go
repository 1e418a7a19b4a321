package app

import (
	"log/slog"

	"portico/internal/config"
	"portico/internal/gateway/docker"
	"portico/internal/upstream"
)

// newDockerOptions builds the registry handlers' long-lived state once
// per process: the upstream connection pool and token cache, the key
// that signs the tokens of Portico's auth handshake, and who gets which
// tokens. Every image a rule serves is public: anyone may pull it.
func newDockerOptions(cfg config.Config, log *slog.Logger, transport *upstream.Transport) (docker.Options, error) {
	var key []byte
	if cfg.TokenKeyFile != "" {
		var err error
		if key, err = docker.ReadTokenKey(cfg.TokenKeyFile); err != nil {
			return docker.Options{}, err
		}
	}
	signer, err := docker.NewSigner(key)
	if err != nil {
		return docker.Options{}, err
	}
	return docker.Options{
		Proxy:     docker.NewProxy(transport, log, cfg.StallTimeout),
		Signer:    signer,
		Authorize: docker.AllowPull,
		Logger:    log,
	}, nil
}
