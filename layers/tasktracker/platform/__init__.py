"""The thin web platform every function shares: app factory, errors, auth, logging, metrics, rate limits."""
