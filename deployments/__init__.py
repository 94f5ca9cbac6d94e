"""Deployment assets: RBAC and Kubernetes manifests, receiver and routing configurations."""
