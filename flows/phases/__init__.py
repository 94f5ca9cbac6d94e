"""The runbook's phases, each a Prefect flow run as a subflow of the scenario's run.

The Prefect UI shows an incident as the runbooks describe it: declare, assess, investigate,
mitigate, apply, resolve, post-incident, one run each, under the scenario's run.
"""
