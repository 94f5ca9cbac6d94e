"""Deployment assets: the alert receiver (next), RBAC manifests, example configurations."""
