"""Plumbing both studies share: the config contract, strict JSON artifacts, starting Ray, and the
statistics helpers (one sigmoid, one exact binomial interval, one t-interval, one bootstrap)."""
