"""Local stand-ins for services a sandboxed drill cannot reach."""
