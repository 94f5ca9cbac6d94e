"""Tests that must not run beside each other on two xdist workers share one group.

`make test` runs `pytest -n 2 --dist loadgroup`: tests of one ``xdist_group`` run on one
worker, one after another; the rest are spread over both.
"""

# These fill the shared PostgreSQL server's connections on purpose (pool exhaustion, the
# drills), find leftovers across the whole server by name prefix (the injectors), read its
# server-wide headroom (test_postgres), or start real Prefect servers on it with their own
# pools and workers (~30-50 connections each): two at once would see each other's load as
# theirs, or run the server out of slots.
SHARED_POSTGRES = "shared-postgres-server"

# These add Nodes beside the fake kubelet's (NotReady, under MemoryPressure) or read every
# Node: the scenarios and the usage checks would see the seeded ones.
CLUSTER_NODES = "cluster-nodes"
